/**
 * Switchboard admin console (`/admin/`): the operator signs in with an API key
 * (kept in this tab's sessionStorage only, sent as `Authorization: Bearer`,
 * never in a URL); the console then polls the server's live stats every second
 * for its charts and tables, and looks users up, disconnects them, browses
 * room history and manages private rooms through the server API.
 */
import { byId } from '../../src/dom.js';
import { Api, ApiError } from './api.js';
import { Charts } from './charts.js';
import { HistoryPanel } from './history.js';
import { renderFigures, renderSlowConsumers, renderTopRooms, type OverviewLinks } from './overview.js';
import { RoomsPanel } from './rooms.js';
import { addSample, emptySeries, StatsPoller, type Series, type Stats } from './stats.js';
import { onUnauthorized } from './ui.js';
import { UserPanel } from './users.js';

const KEY_ITEM = 'switchboard:admin-key';

const signin = byId('signin');
const form = byId<HTMLFormElement>('signin-form');
const keyInput = byId<HTMLInputElement>('key');
const signinError = byId('signin-error');
const signinButton = byId<HTMLButtonElement>('signin-button');
const consoleEl = byId('console');
const signoutBtn = byId<HTMLButtonElement>('signout');
const live = byId('live');
const main = byId('main');
const figures = byId('figures');
const statsError = byId('stats-error');

const api = new Api();
const users = new UserPanel(api, byId<HTMLFormElement>('user-form'), byId<HTMLInputElement>('user-id'), byId('user-result'));
const history = new HistoryPanel(api, byId<HTMLFormElement>('history-form'), byId<HTMLInputElement>('history-room'), byId('history-result'));
new RoomsPanel(api, {
  createForm: byId<HTMLFormElement>('create-form'),
  createName: byId<HTMLInputElement>('create-name'),
  createKind: byId<HTMLSelectElement>('create-kind'),
  createMaxCount: byId<HTMLInputElement>('create-max-count'),
  membersForm: byId<HTMLFormElement>('members-form'),
  membersRoom: byId<HTMLInputElement>('members-room'),
  membersResult: byId('members-result'),
});
const links: OverviewLinks = {
  showRoom: (room) => {
    void history.show(room);
    byId('history-h').scrollIntoView({ block: 'start', behavior: 'smooth' });
  },
  showUser: (user) => {
    void users.show(user);
    byId('user-h').scrollIntoView({ block: 'start', behavior: 'smooth' });
  },
};

/** While signed in. */
let session: { poller: StatsPoller; charts: Charts; series: Series; last: Stats | null } | null = null;
/** A sign-in is checking its key: a second submit waits for it. */
let checking = false;

async function signIn(key: string): Promise<void> {
  if (checking) return;
  checking = true;
  signinButton.disabled = true;
  signinError.textContent = '';
  api.key = key;
  let first: Stats;
  try {
    first = await api.get<Stats>('admin/stats');
  } catch (err) {
    api.key = '';
    forgetKey();
    signin.hidden = false;
    signinError.textContent = signInProblem(err);
    keyInput.value = key;
    keyInput.focus();
    keyInput.select();
    return;
  } finally {
    checking = false;
    signinButton.disabled = false;
  }
  try {
    sessionStorage.setItem(KEY_ITEM, key);
  } catch {
    // storage refused: the console works until the tab is reloaded
  }
  keyInput.value = '';
  signin.hidden = true;
  consoleEl.hidden = signoutBtn.hidden = live.hidden = false;
  const series = emptySeries();
  const charts = new Charts(series);
  const poller = new StatsPoller(api, onStats, onStatsError);
  session = { poller, charts, series, last: null };
  onStats(first);
  poller.start();
  main.focus();
}

function signInProblem(err: unknown): string {
  if (!(err instanceof ApiError)) return `Sign-in failed: ${(err as Error).message}`;
  if (err.status === 0) return 'Could not reach the server. Try again.';
  if (err.status === 401) return 'This server does not know that API key. Check that it was copied whole, and that its entry is in api.keys (the server reads them at start).';
  if (err.status === 403) return 'That key has neither the read nor the admin scope: the console needs read (charts, look-ups) or admin (also disconnects and rooms).';
  return err.message;
}

function onStats(stats: Stats): void {
  if (!session) return;
  addSample(session.series, session.last, stats);
  session.last = stats;
  session.charts.update(session.series);
  renderFigures(figures, stats, session.series);
  renderTopRooms(byId('top-members'), byId('top-rate'), stats, links);
  renderSlowConsumers(byId('slow'), stats, links);
  statsError.textContent = '';
  live.dataset.state = 'live';
  live.textContent = `Live · ${new Date(stats.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
}

function onStatsError(err: ApiError): void {
  if (err.status === 401) return void signOut(err.message);
  live.dataset.state = 'error';
  live.textContent = err.status === 0 ? 'Server unreachable: retrying' : 'Stats failed: retrying';
  statsError.textContent = err.message;
}

function signOut(message = ''): void {
  session?.poller.stop();
  session?.charts.destroy();
  session = null;
  api.key = '';
  forgetKey();
  consoleEl.hidden = signoutBtn.hidden = live.hidden = true;
  for (const id of ['user-result', 'history-result', 'members-result', 'figures', 'top-members', 'top-rate', 'slow']) byId(id).replaceChildren();
  for (const id of ['top-members', 'top-rate', 'slow']) delete byId(id).dataset.signature;
  signin.hidden = false;
  signinError.textContent = message;
  keyInput.focus();
}

function forgetKey(): void {
  try {
    sessionStorage.removeItem(KEY_ITEM);
  } catch {
    // ignore
  }
}

onUnauthorized((message) => signOut(message));

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (!key) {
    signinError.textContent = 'Paste an API key.';
    keyInput.focus();
    return;
  }
  void signIn(key);
});
signoutBtn.addEventListener('click', () => signOut());

let saved: string | null = null;
try {
  saved = sessionStorage.getItem(KEY_ITEM);
} catch {
  saved = null;
}
if (saved) void signIn(saved);
else {
  signin.hidden = false;
  keyInput.focus();
}
