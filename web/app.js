// Switchboard web chat: a small client for the wire protocol in docs/protocol.md.
// All user text goes into the page as text nodes (never innerHTML).

const $ = (id) => document.getElementById(id);
const ROOM_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const USER_ID = /^[^\s\u0000-\u001f\u007f]{1,128}$/;
const DEFAULT_ROOM = 'general';

// Close codes (protocol.md §7): [name, meaning, reconnect?]
const CLOSE_CODES = {
  1000: ['normal', 'the connection was closed', false],
  1001: ['going away', 'the server is shutting down', true],
  1003: ['unsupported data', 'the client sent a binary frame', false],
  1006: ['connection lost', 'the network connection dropped', true],
  1009: ['message too big', 'a frame exceeded the size limit', false],
  1013: ['try again later', 'the server is full', true],
  4001: ['unauthorized', 'no token, bad token, bad dev name, or dev auth disabled', false],
  4002: ['token expired', 'sign in again with a new token', false],
  4003: ['replaced', 'you connected again from another tab or device', false],
  4004: ['heartbeat timeout', 'the server got no answer to its ping in time', true],
  4005: ['slow consumer', 'the connection fell behind; some messages may be missing', true],
  4006: ['flood', 'too many messages were sent after being rate limited', true],
  4007: ['too many sessions', 'close another tab or device first', false],
  4009: ['auth timeout', 'no credentials were sent in time', true],
};

const el = {};
for (const id of ['menu', 'me', 'signout', 'status', 'status-text', 'retry', 'signin', 'signin-form', 'user', 'token',
  'signin-error', 'chat', 'sidebar', 'rooms', 'join-form', 'join-room', 'dms', 'dm-form', 'dm-user', 'people-h', 'people',
  'conv-title', 'conv-sub', 'messages', 'typing', 'composer', 'text', 'send']) el[id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = $(id);

const state = {
  cred: null, // { user } or { token }
  me: null, // set by the `connected` push
  ws: null,
  limits: { maxTextLength: 8000 },
  convs: new Map(), // 'room:general' | 'dm:bob' -> conversation
  current: null, // key of the conversation on screen
  room: null, // room whose people are listed
  nextId: 1,
  pending: new Map(),
  attempt: 0,
  retryTimer: 0,
  pingTimer: 0,
  lastRx: 0,
};
const typingOut = { key: null, last: 0, timer: 0 };

// ---- DOM helpers -------------------------------------------------------------

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children.flat().filter((c) => c != null && c !== false)); // strings become text nodes
  return node;
}

const hue = (name) => [...name].reduce((a, ch) => (a * 31 + ch.codePointAt(0)) % 360, 7);
const label = (c) => (c.kind === 'room' ? `#${c.name}` : c.name);
const current = () => state.convs.get(state.current);
const isOpen = () => state.me !== null && state.ws?.readyState === WebSocket.OPEN;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function timeEl(ts) {
  const d = new Date(ts);
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() },
    d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
}

// ---- Connection --------------------------------------------------------------

function connect() {
  clearTimeout(state.retryTimer);
  const q = state.cred.token ? `token=${encodeURIComponent(state.cred.token)}` : `user=${encodeURIComponent(state.cred.user)}`;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?${q}`);
  state.ws = ws;
  setStatus('connecting', state.attempt ? `Reconnecting (attempt ${state.attempt + 1})…` : 'Connecting…');
  ws.onmessage = (e) => {
    state.lastRx = Date.now();
    for (const line of String(e.data).split('\n')) {
      if (!line) continue;
      let msg;
      try { msg = JSON.parse(line); } catch { console.warn('Switchboard: unparsable line', line); continue; }
      handle(msg);
    }
  };
  ws.onclose = (e) => { if (state.ws === ws) onClosed(e.code); };
}

function request(cmd) {
  return new Promise((resolve, reject) => {
    if (!isOpen()) return reject(Object.assign(new Error('not connected'), { code: 'offline' }));
    const id = state.nextId++;
    state.pending.set(id, { resolve, reject });
    state.ws.send(JSON.stringify({ ...cmd, id }));
  });
}

function post(cmd) {
  if (isOpen()) state.ws.send(JSON.stringify(cmd));
}

function handle(m) {
  switch (m.type) {
    case 'connected': return onConnected(m);
    case 'notice': return addItem(current(), { system: true, from: m.from, text: m.text, ts: m.ts });
    case 'message': return onMessage(m);
    case 'presence': return onPresence(m);
    case 'typing': return onTyping(m);
    case 'reply': case 'error': case 'pong': {
      const p = m.id != null && state.pending.get(m.id);
      if (!p) { if (m.type === 'error') addItem(current(), { system: true, error: true, text: `${m.code}: ${m.message}` }); return; }
      state.pending.delete(m.id);
      if (m.type === 'error') p.reject(Object.assign(new Error(m.message), { code: m.code }));
      else p.resolve(m.data);
    }
  }
}

function onConnected(m) {
  state.me = m.user;
  state.limits = m.limits ?? state.limits;
  state.attempt = 0;
  el.me.textContent = m.user;
  setStatus('connected', `Connected as ${m.user}`);
  // Our own liveness check: browsers hide WebSocket pings, so ping at the server's interval.
  clearInterval(state.pingTimer);
  const { intervalMs = 25000, timeoutMs = 10000 } = m.heartbeat ?? {};
  state.pingTimer = setInterval(() => {
    if (Date.now() - state.lastRx > intervalMs + timeoutMs) {
      const ws = state.ws;
      state.ws = null;
      ws?.close();
      onClosed(1006);
    } else post({ type: 'ping' });
  }, intervalMs);
  for (const c of state.convs.values()) if (c.kind === 'room') joinRoom(c.name, false);
  updateComposer();
}

function onClosed(code) {
  const what = state.me ? 'Disconnected' : 'Could not connect';
  teardown();
  if (!state.cred) return;
  const [name, meaning, retry] = CLOSE_CODES[code] ?? ['', 'the connection closed', true];
  const why = `${what} (${code}${name ? ` ${name}` : ''}: ${meaning})`;
  if (code === 4001 || code === 4002) return signOut(`${why}.`);
  if (!retry) return setStatus('disconnected', `${why}.`, true);
  const delay = Math.min(30000, 1000 * 2 ** state.attempt) * (0.5 + Math.random() / 2) + (code === 4006 ? 10000 : 0);
  state.attempt++;
  setStatus('disconnected', `${why}. Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`, true);
  state.retryTimer = setTimeout(connect, delay);
}

function teardown() {
  state.ws = null;
  state.me = null;
  clearInterval(state.pingTimer);
  clearTimeout(typingOut.timer);
  typingOut.key = null;
  for (const p of state.pending.values()) p.reject(Object.assign(new Error('disconnected'), { code: 'offline' }));
  state.pending.clear();
  for (const c of state.convs.values()) {
    c.joined = false;
    c.members.clear();
    for (const t of c.typing.values()) clearTimeout(t);
    c.typing.clear();
  }
  renderSidebar();
  renderTyping();
  updateComposer();
}

function setStatus(kind, text, showRetry = false) {
  el.status.hidden = kind === 'idle';
  el.status.dataset.state = kind;
  el.statusText.textContent = text;
  el.retry.hidden = !showRetry;
}

// ---- Conversations -----------------------------------------------------------

function conv(kind, name) {
  const key = `${kind}:${name}`;
  if (!state.convs.has(key)) {
    state.convs.set(key, { key, kind, name, items: [], unread: 0, lastSeq: null, joined: false, members: new Map(), typing: new Map() });
  }
  return state.convs.get(key);
}

async function joinRoom(name, select = true) {
  const c = conv('room', name);
  if (select) selectConv(c.key);
  if (c.joined) return;
  try {
    const r = await request({ type: 'join', room: name });
    if (c.lastSeq !== null && r.seq > c.lastSeq) {
      addItem(c, { system: true, text: `${plural(r.seq - c.lastSeq, 'message')} sent while you were away.` });
    }
    c.lastSeq = r.seq; // authoritative (also after a server restart reset the sequence)
    c.joined = true;
    const p = await request({ type: 'presence', room: name });
    c.members = new Map(p.users.map((u) => [u.user, u.sessions]));
    renderSidebar();
    updateComposer();
  } catch (err) {
    if (err.code !== 'offline') addItem(c, { system: true, error: true, text: `Could not join #${name} (${err.code}): ${err.message}` });
  }
}

async function leaveRoom(c) {
  if (c.joined) await request({ type: 'leave', room: c.name }).catch(() => {});
  state.convs.delete(c.key);
  if (state.room === c.name) state.room = null;
  if (state.current === c.key) {
    state.current = null;
    const next = [...state.convs.values()].find((x) => x.kind === 'room') ?? state.convs.values().next().value;
    if (next) return selectConv(next.key);
  }
  renderConversation();
}

function selectConv(key) {
  if (state.current !== key) stopTyping();
  state.current = key;
  const c = current();
  c.unread = 0;
  if (c.kind === 'room') state.room = c.name;
  renderConversation();
  closeDrawer();
}

function addItem(c, item) {
  if (!c) return;
  c.items.push(item);
  if (c.items.length > 500) c.items.shift();
  if (c.key === state.current) {
    const box = el.messages;
    const stick = item.mine || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    box.append(renderItem(item));
    if (box.children.length > 500) box.firstElementChild.remove();
    if (stick) box.scrollTop = box.scrollHeight;
  } else if (!item.system) {
    c.unread++;
    renderSidebar();
  }
}

function onMessage(m) {
  const c = m.room != null ? conv('room', m.room) : conv('dm', m.from === state.me ? m.to : m.from);
  if (c.lastSeq !== null && m.seq > c.lastSeq + 1) {
    addItem(c, { system: true, text: `${plural(m.seq - c.lastSeq - 1, 'earlier message')} missed.` });
  }
  c.lastSeq = m.seq;
  clearTyping(c, m.from);
  addItem(c, { from: m.from, ts: m.ts, mine: m.from === state.me, contentType: m.contentType, body: m.body });
  if (c.kind === 'dm') renderSidebar(); // a new DM conversation may have appeared
}

function onPresence(m) {
  const c = state.convs.get(`room:${m.room}`);
  if (!c) return;
  if (m.event === 'join') {
    if (!c.members.has(m.user)) c.members.set(m.user, 1);
  } else {
    c.members.delete(m.user);
    clearTyping(c, m.user);
  }
  if (m.user !== state.me) addItem(c, { system: true, text: `${m.user} ${m.event === 'join' ? 'joined' : 'left'}` });
  renderSidebar();
}

function onTyping(m) {
  if (m.from === state.me) return;
  const c = state.convs.get(m.room != null ? `room:${m.room}` : `dm:${m.from}`);
  if (!c) return;
  clearTimeout(c.typing.get(m.from));
  if (m.active === false) c.typing.delete(m.from);
  else c.typing.set(m.from, setTimeout(() => clearTyping(c, m.from), 6000));
  if (c.key === state.current) renderTyping();
}

function clearTyping(c, user) {
  if (!c.typing.has(user)) return;
  clearTimeout(c.typing.get(user));
  c.typing.delete(user);
  if (c.key === state.current) renderTyping();
}

// ---- Sending -----------------------------------------------------------------

const target = (c) => (c.kind === 'room' ? { room: c.name } : { to: c.name });
const canPost = (c) => c && isOpen() && (c.kind === 'dm' || c.joined);

function onInput() {
  el.text.style.height = 'auto';
  el.text.style.height = `${Math.min(el.text.scrollHeight, 160)}px`;
  const c = current();
  if (!canPost(c)) return;
  if (!el.text.value.trim()) return stopTyping();
  const now = Date.now();
  if (typingOut.key !== c.key || now - typingOut.last > 3000) {
    post({ type: 'typing', ...target(c), active: true });
    typingOut.key = c.key;
    typingOut.last = now;
  }
  clearTimeout(typingOut.timer);
  typingOut.timer = setTimeout(stopTyping, 3000);
}

function stopTyping() {
  clearTimeout(typingOut.timer);
  const c = typingOut.key && state.convs.get(typingOut.key);
  if (canPost(c)) post({ type: 'typing', ...target(c), active: false });
  typingOut.key = null;
}

async function sendText() {
  const c = current();
  const body = el.text.value.trim();
  if (!body || !canPost(c)) return;
  if (body.length > state.limits.maxTextLength) {
    return addItem(c, { system: true, error: true, text: `Message too long (limit ${state.limits.maxTextLength} characters).` });
  }
  stopTyping();
  el.text.value = '';
  onInput();
  const cmd = { type: c.kind === 'room' ? 'publish' : 'send', ...target(c), contentType: 'text', body };
  try {
    await request(cmd);
  } catch (err) {
    addItem(c, { system: true, error: true, text: `Not sent (${err.code}): ${err.message}` });
    if (!el.text.value) el.text.value = body;
  }
}

// ---- Rendering ---------------------------------------------------------------

function renderBody(it) {
  if (it.contentType === 'text') return String(it.body);
  const b = it.body ?? {};
  const name = String(b.caption ?? b.name ?? it.contentType);
  if (typeof b.url === 'string' && /^https?:\/\//i.test(b.url)) {
    return [`[${it.contentType}] `, h('a', { href: b.url, target: '_blank', rel: 'noopener noreferrer' }, name)];
  }
  return `[${it.contentType}] ${typeof it.body === 'string' ? it.body : JSON.stringify(it.body)}`;
}

function renderItem(it) {
  if (it.system) {
    return h('li', { class: `system${it.error ? ' error' : ''}` },
      it.from ? h('strong', {}, `${it.from}: `) : null, it.text, it.ts ? [' · ', timeEl(it.ts)] : null);
  }
  const li = h('li', { class: `msg${it.mine ? ' mine' : ''}` },
    h('div', { class: 'meta' }, h('span', { class: 'from' }, it.mine ? `${it.from} (you)` : it.from), ' ', timeEl(it.ts)),
    h('div', { class: 'body' }, renderBody(it)));
  li.style.setProperty('--hue', hue(it.from));
  return li;
}

function convItem(c) {
  return h('li', {},
    h('button', { type: 'button', class: 'conv', 'aria-current': c.key === state.current ? 'true' : null,
      onclick: () => { selectConv(c.key); el.text.focus(); } },
      h('span', { class: `name${c.kind === 'room' && !c.joined && state.me ? ' muted' : ''}` }, label(c)),
      c.unread ? h('span', { class: 'badge' }, String(c.unread), h('span', { class: 'sr-only' }, ' unread')) : null),
    c.kind === 'room'
      ? h('button', { type: 'button', class: 'leave', title: `Leave ${label(c)}`, 'aria-label': `Leave ${label(c)}`, onclick: () => leaveRoom(c) }, '×')
      : null);
}

function renderSidebar() {
  const convs = [...state.convs.values()];
  el.rooms.replaceChildren(...convs.filter((c) => c.kind === 'room').map(convItem));
  el.dms.replaceChildren(...convs.filter((c) => c.kind === 'dm').map(convItem));
  const room = state.room && state.convs.get(`room:${state.room}`);
  const users = room ? [...room.members.keys()].sort((a, b) => a.localeCompare(b)) : [];
  el.peopleH.textContent = room ? `People in #${room.name} (${users.length})` : 'People';
  const c = current();
  el.convSub.textContent = !c ? '' : c.kind === 'dm' ? 'Direct message'
    : c.joined ? `${c.members.size} ${c.members.size === 1 ? 'person' : 'people'} here` : '';
  el.people.replaceChildren(...users.map((u) => h('li', {},
    u === state.me
      ? h('span', { class: 'person' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), `${u} (you)`)
      : h('button', { type: 'button', class: 'person', title: `Message ${u}`, 'aria-label': `Message ${u} directly`,
        onclick: () => openDm(u) }, h('span', { class: 'dot', 'aria-hidden': 'true' }), u))));
  const unread = convs.reduce((n, c) => n + c.unread, 0);
  document.title = unread ? `(${unread}) Switchboard` : 'Switchboard';
}

function renderTyping() {
  const users = [...(current()?.typing.keys() ?? [])];
  el.typing.textContent = users.length === 0 ? ''
    : users.length === 1 ? `${users[0]} is typing…`
      : users.length === 2 ? `${users[0]} and ${users[1]} are typing…` : 'Several people are typing…';
}

function renderConversation() {
  const c = current();
  el.convTitle.textContent = c ? label(c) : 'No conversation';
  el.text.placeholder = c ? `Message ${label(c)}` : 'Join a room or open a direct message';
  el.messages.replaceChildren(...(c ? c.items.map(renderItem) : []));
  el.messages.scrollTop = el.messages.scrollHeight;
  renderSidebar();
  renderTyping();
  updateComposer();
}

function updateComposer() {
  el.send.disabled = !canPost(current());
  el.text.disabled = !current();
}

// ---- UI wiring ---------------------------------------------------------------

function openDm(name) {
  selectConv(conv('dm', name).key);
  el.text.focus();
}

function signOut(message = '') {
  const ws = state.ws;
  state.cred = null;
  clearTimeout(state.retryTimer);
  teardown();
  ws?.close(1000);
  state.convs.clear();
  state.current = state.room = null;
  renderConversation();
  setStatus('idle', '');
  el.me.textContent = '';
  el.signout.hidden = el.menu.hidden = el.chat.hidden = true;
  el.signin.hidden = false;
  el.signinError.textContent = message;
  el.user.focus();
}

function closeDrawer() {
  document.body.classList.remove('drawer-open');
  el.menu.setAttribute('aria-expanded', 'false');
}

el.signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const user = el.user.value.trim();
  const token = el.token.value.trim();
  if (!token && !/^[A-Za-z0-9_.@-]{1,64}$/.test(user)) {
    el.signinError.textContent = 'Enter a user name (letters, digits, _ . @ -) or a token.';
    return el.user.focus();
  }
  if (!token) localStorage.setItem('switchboard.user', user);
  state.cred = token ? { token } : { user };
  state.attempt = 0;
  el.token.value = '';
  el.signinError.textContent = '';
  el.signin.hidden = true;
  el.chat.hidden = el.signout.hidden = el.menu.hidden = false;
  selectConv(conv('room', DEFAULT_ROOM).key);
  connect();
  el.text.focus();
});

el.joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = el.joinRoom.value.trim().replace(/^#/, '');
  if (!ROOM_NAME.test(name)) return addItem(current(), { system: true, error: true, text: 'Room names are 1–100 characters of A-Z a-z 0-9 _ . : -' });
  el.joinRoom.value = '';
  joinRoom(name);
  el.text.focus();
});

el.dmForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = el.dmUser.value.trim().replace(/^@/, '');
  if (!USER_ID.test(name)) return addItem(current(), { system: true, error: true, text: 'User names have no spaces.' });
  el.dmUser.value = '';
  openDm(name);
});

el.composer.addEventListener('submit', (e) => { e.preventDefault(); sendText(); });
el.text.addEventListener('input', onInput);
el.text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendText(); }
});
el.retry.addEventListener('click', () => { if (state.cred && !state.ws) connect(); });
el.signout.addEventListener('click', () => signOut());
el.menu.addEventListener('click', () => {
  const open = document.body.classList.toggle('drawer-open');
  el.menu.setAttribute('aria-expanded', String(open));
  if (open) el.sidebar.querySelector('button, input')?.focus();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && document.body.classList.contains('drawer-open')) { closeDrawer(); el.menu.focus(); }
});
window.addEventListener('online', () => { if (state.cred && !state.ws) connect(); });

el.user.value = localStorage.getItem('switchboard.user') ?? '';
renderConversation();
