/**
 * Switchboard web chat: sign-in, then the chat (app.ts). The session survives
 * a reload of the tab (sessionStorage); the last dev name is remembered.
 */
import { ChatApp, type Credentials } from './app.js';
import { byId } from './dom.js';
import { loadEndpoints, type Endpoints } from './endpoints.js';

const SESSION = 'switchboard:session';
const LAST_USER = 'switchboard:user';
const DEV_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

const signin = byId('signin');
const form = byId<HTMLFormElement>('signin-form');
const userInput = byId<HTMLInputElement>('user');
const tokenInput = byId<HTMLInputElement>('token');
const error = byId('signin-error');
const chat = byId('chat');
const signoutBtn = byId<HTMLButtonElement>('signout');
const menu = byId<HTMLButtonElement>('menu');
const meBox = byId('me-box');
const banner = byId('banner');

let app: ChatApp | null = null;
/** A sign-in is waiting for the server's endpoints: a second submit must not start a second chat. */
let starting = false;

async function start(cred: Credentials): Promise<void> {
  if (starting) return;
  starting = true;
  let endpoints: Endpoints;
  try {
    endpoints = await loadEndpoints();
  } catch (err) {
    signin.hidden = false;
    error.textContent = `Could not reach the server (${(err as Error).message}). Try again.`;
    // The form was cleared of the token on submit: put it back, so that trying again is one click.
    if (cred.token !== undefined) tokenInput.value = cred.token;
    userInput.focus();
    return;
  } finally {
    starting = false;
  }
  try {
    sessionStorage.setItem(SESSION, JSON.stringify(cred));
  } catch {
    // private mode: the session just does not survive a reload
  }
  error.textContent = '';
  signin.hidden = true;
  chat.hidden = signoutBtn.hidden = menu.hidden = meBox.hidden = false;
  document.body.classList.add('signed-in');
  app = new ChatApp(cred, endpoints, (message) => void signOut(message));
  app.start();
}

async function signOut(message = ''): Promise<void> {
  const old = app;
  app = null;
  try {
    sessionStorage.removeItem(SESSION);
  } catch {
    // ignore
  }
  chat.hidden = signoutBtn.hidden = menu.hidden = meBox.hidden = banner.hidden = true;
  document.body.classList.remove('signed-in', 'drawer-open', 'in-call');
  signin.hidden = false;
  error.textContent = message;
  userInput.focus();
  await old?.destroy();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const user = userInput.value.trim();
  const token = tokenInput.value.trim();
  if (!token && !DEV_NAME.test(user)) {
    error.textContent = user ? 'User names are 1–64 letters, digits or _ . @ -' : 'Enter a user name or a token.';
    userInput.focus();
    return;
  }
  tokenInput.value = '';
  if (!token) {
    try {
      localStorage.setItem(LAST_USER, user);
    } catch {
      // ignore
    }
  }
  void start(token ? { token } : { user });
});

signoutBtn.addEventListener('click', () => void signOut());

let saved: Credentials | null = null;
try {
  saved = JSON.parse(sessionStorage.getItem(SESSION) ?? 'null') as Credentials | null;
  userInput.value = localStorage.getItem(LAST_USER) ?? '';
} catch {
  saved = null;
}
if (saved && (typeof saved.user === 'string' || typeof saved.token === 'string')) void start(saved);
else {
  signin.hidden = false;
  userInput.focus();
}
