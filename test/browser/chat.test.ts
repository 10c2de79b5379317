/**
 * The web chat (dist/web, served at `/`) in a real browser: two browser
 * contexts are two users (alice, bob) on a real server (carol, an SDK client
 * in Node, keeps them company and writes history). They exchange room
 * messages and a DM, see each other's presence and typing; alice reloads and
 * gets the history back (older pages load as she scrolls up); bob goes offline
 * and gets what he missed; an uploaded image shows its preview; a video call
 * between them connects with Chromium's fake camera and microphone; an image
 * whose file is gone says so; a conversation list in storage that is not in
 * shape does not stop the chat. Any console error or page error fails the test
 * (but the browser's own line for a file that answers 404 where one is meant to).
 *
 * Needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH): skipped without it,
 * failed without it under CI=true. UPDATE_SCREENSHOTS=1 saves the README's
 * screenshots to docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, afterEach, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SwitchboardClient } from '../../client/src/index.js';
import { startServer, tempDataDir, type TestServer } from '../helpers/server.js';
import { describeInBrowser, drawPng, launch, loadedImageSize, openChat, screenshot, signIn, stepOf, type User } from './browser.js';

describeInBrowser('web chat in a browser', { timeout: 90_000 }, () => {
  const dataDir = tempDataDir();
  let server: TestServer;
  let browser: Browser;
  let alice: User;
  let bob: User;
  /** A third user, on the SDK in Node: company in the room, and more than a page of history. */
  let carol: SwitchboardClient;
  const users = (): User[] => [alice, bob].filter(Boolean);

  before(async () => {
    [server, browser] = await Promise.all([
      startServer(['--auth.dev', 'true', '--store.file', join(dataDir, 'switchboard.db'), '--uploads.dir', join(dataDir, 'uploads')]),
      launch(),
    ]);
  });
  after(async () => {
    await carol?.close();
    await browser?.close();
    await server?.stop();
  });
  afterEach(() => {
    const errors = users().flatMap((u) => u.errors.splice(0));
    assert.deepEqual(errors, [], 'console errors or page errors in the browser');
  });

  const step = stepOf(users, () => server);
  const messages = (u: User) => u.page.locator('#messages');
  const conv = (u: User, key: string) => u.page.locator(`#sidebar button.conv[data-key="${key}"]`);

  step('signs two users in with dev names', async () => {
    alice = await openChat(browser, server.url, 'alice');
    await alice.page.getByRole('heading', { name: 'Sign in to Switchboard' }).waitFor();
    await screenshot(alice.page, 'signin');
    await signIn(alice);
    bob = await openChat(browser, server.url, 'bob');
    await signIn(bob);
    for (const u of [alice, bob]) {
      assert.equal(await u.page.locator('#me').textContent(), u.name);
      await u.page.locator('#conv-title', { hasText: '#general' }).waitFor();
      assert.equal(await u.page.locator('#banner').isHidden(), true, 'no connection banner once connected');
    }
  });

  step('exchanges room messages, with presence and typing', async () => {
    // Presence: each sees the other online in #general.
    await alice.page.getByRole('button', { name: /^bob, online/ }).waitFor();
    await bob.page.getByRole('button', { name: /^alice, online/ }).waitFor();
    await alice.page.locator('#conv-sub', { hasText: '2 online' }).waitFor();
    carol = new SwitchboardClient({ url: server.wsUrl, user: 'carol', reconnect: false });
    await carol.connect();
    await carol.join('general');
    await alice.page.getByRole('button', { name: /^carol, online/ }).waitFor();
    await carol.publish('general', 'Morning all! The 2.4 deploy is green.');
    await messages(bob).getByText('Morning all! The 2.4 deploy is green.').waitFor();

    // Typing, then the message.
    await bob.page.getByLabel('Message', { exact: true }).pressSequentially('Hi alice, welcome');
    await alice.page.locator('#typing', { hasText: 'bob is typing…' }).waitFor();
    await bob.page.keyboard.press('Enter');
    await messages(alice).getByText('Hi alice, welcome').waitFor();
    await alice.page.locator('#typing', { hasText: /^$/ }).waitFor();

    await alice.page.getByLabel('Message', { exact: true }).fill('Hello bob! The release notes are at https://example.com/notes');
    await alice.page.getByRole('button', { name: 'Send message' }).click();
    await messages(bob).getByText('Hello bob! The release notes are at').waitFor();
    assert.equal(await messages(bob).getByRole('link', { name: 'https://example.com/notes' }).count(), 1);
    await bob.page.getByLabel('Message', { exact: true }).fill('Thanks, reading them now.');
    await bob.page.keyboard.press('Enter');
    await messages(alice).getByText('Thanks, reading them now').waitFor();
    await screenshot(alice.page, 'room');
  });

  step('sends a direct message: unread badge, then the conversation', async () => {
    await bob.page.getByRole('button', { name: /^alice, online/ }).click();
    await bob.page.locator('#conv-title', { hasText: 'alice' }).waitFor();
    await bob.page.getByLabel('Message', { exact: true }).fill('Psst, can we talk about the launch?');
    await bob.page.keyboard.press('Enter');

    // alice is in #general: the DM shows up with an unread count.
    const dm = conv(alice, 'd:bob');
    await dm.locator('.badge', { hasText: '1' }).waitFor();
    assert.match((await dm.textContent()) ?? '', /1 unread/);
    await dm.click();
    await messages(alice).getByText('Psst, can we talk about the launch?').waitFor();
    await alice.page.locator('#conv-sub', { hasText: 'Online' }).waitFor();
    await dm.locator('.badge').waitFor({ state: 'detached' });

    await alice.page.getByLabel('Message', { exact: true }).pressSequentially('Sure');
    await bob.page.locator('#typing', { hasText: 'alice is typing…' }).waitFor();
    await alice.page.keyboard.press('Enter');
    await messages(bob).getByText('Sure', { exact: true }).waitFor();
  });

  step('reloads and sees the history; older pages load while scrolling up', async () => {
    // carol fills #general with more than a page of history.
    for (let i = 1; i <= 70; i++) void carol.publish('general', `history message ${i}`);
    await carol.publish('general', 'history message end');
    await conv(alice, 'r:general').click();
    await messages(alice).getByText('history message end').waitFor();

    await alice.page.reload();
    await alice.page.locator('#me-box[data-state="connected"]').waitFor();
    await alice.page.locator('#conv-title', { hasText: '#general' }).waitFor();
    await messages(alice).getByText('history message end').waitFor();
    await messages(alice).getByText('history message 60', { exact: true }).waitFor();
    assert.equal(await messages(alice).getByText('history message 1', { exact: true }).count(), 0, 'only the newest page at first');
    // The DM is still listed after the reload.
    await conv(alice, 'd:bob').waitFor();

    // Scroll up until the beginning.
    const scroller = alice.page.locator('#scroller');
    for (let i = 0; i < 10 && (await alice.page.locator('#history-state', { hasText: 'beginning of #general' }).count()) === 0; i++) {
      await scroller.evaluate((el) => el.scrollTo({ top: 0 }));
      await alice.page.waitForTimeout(150);
    }
    await alice.page.locator('#history-state', { hasText: 'This is the beginning of #general.' }).waitFor();
    for (const text of ['history message 1', 'Morning all! The 2.4 deploy is green.', 'Hi alice, welcome', 'Thanks, reading them now.']) {
      await messages(alice).getByText(text, { exact: true }).waitFor();
    }
  });

  step('goes offline and gets what it missed', async () => {
    await bob.context.setOffline(true);
    await bob.page.locator('#banner', { hasText: 'You are offline' }).waitFor();
    // Written while offline: waits, then goes out.
    await bob.page.getByLabel('Message', { exact: true }).fill('I wrote this on the train');
    await bob.page.keyboard.press('Enter');
    await messages(bob).locator('.msg.pending', { hasText: 'Waiting for the connection' }).waitFor();

    await conv(alice, 'd:bob').click();
    await alice.page.getByLabel('Message', { exact: true }).fill('Are you there? (DM)');
    await alice.page.keyboard.press('Enter');
    await conv(alice, 'r:general').click();
    await alice.page.getByLabel('Message', { exact: true }).fill('Standup moved to 10:30 (room)');
    await alice.page.keyboard.press('Enter');
    await messages(alice).getByText('Standup moved to 10:30 (room)').waitFor();
    await bob.page.waitForTimeout(300);
    assert.equal(await messages(bob).getByText('Are you there? (DM)').count(), 0, 'nothing arrives while offline');

    await bob.context.setOffline(false);
    await bob.page.locator('#banner').waitFor({ state: 'hidden' });
    await messages(bob).getByText('Are you there? (DM)').waitFor();
    await messages(bob).locator('.msg:not(.pending)', { hasText: 'I wrote this on the train' }).waitFor();
    await conv(bob, 'r:general').locator('.badge').waitFor();
    await conv(bob, 'r:general').click();
    await messages(bob).getByText('Standup moved to 10:30 (room)').waitFor();
    await conv(alice, 'd:bob').click();
    await messages(alice).getByText('I wrote this on the train').waitFor();
  });

  step('uploads an image and shows its preview to both users', async () => {
    await conv(bob, 'd:alice').click();
    await alice.page.locator('#file').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: drawPng(480, 300) });
    for (const u of [alice, bob]) {
      const size = await loadedImageSize(u, messages(u).locator('.msg:not(.pending) img[alt="sunset.png"]'));
      assert.deepEqual(size, { w: 480, h: 300 }, `${u.name} sees the image`);
    }
    await bob.page.getByLabel('Message', { exact: true }).fill('Wow, where was that?');
    await bob.page.keyboard.press('Enter');
    await messages(alice).getByText('Wow, where was that?').waitFor();
    await screenshot(alice.page, 'dm-image');
  });

  step('connects a video call between the two', async () => {
    await alice.page.getByRole('button', { name: 'Start a video call with bob' }).click();
    const incoming = bob.page.getByRole('dialog', { name: 'alice is calling you' });
    await incoming.waitFor();
    await alice.page.locator('#call-status', { hasText: 'Ringing…' }).waitFor();
    await incoming.getByRole('button', { name: 'Accept' }).click();
    for (const u of [alice, bob]) {
      await u.page.locator('#call[data-state="connected"]').waitFor({ timeout: 15_000 });
      await u.page.locator('#call-status', { hasText: /^Connected/ }).waitFor();
      // The other side's camera is playing here.
      await u.page.waitForFunction(() => {
        const v = (globalThis as unknown as { document: { getElementById(id: string): { readyState: number; srcObject: { getVideoTracks(): unknown[] } | null } } }).document.getElementById('remote-video');
        return v.readyState >= 2 && (v.srcObject?.getVideoTracks().length ?? 0) > 0;
      });
    }
    await alice.page.waitForTimeout(800); // a few frames of the fake camera, for the screenshot
    await screenshot(alice.page, 'call');
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
    await bob.page.locator('#call').waitFor({ state: 'hidden' });
    await messages(bob).getByText(/Video call: alice hung up/).waitFor();
    await messages(alice).getByText(/Video call: ended/).waitFor();
  });

  step('an incoming call is not answered by a key meant for the composer, and a declined caller does not ring again at once', async () => {
    /** How bob's page answers carol's call `callId`: the reason of its reject, or the kind of signal. */
    const answerTo = (callId: string): Promise<unknown> =>
      new Promise((resolve) => {
        const off = carol.on('signal', (sig) => {
          if (sig.callId !== callId || sig.kind === 'ringing') return;
          off();
          resolve(sig.kind === 'reject' ? (sig.data as { reason?: unknown } | undefined)?.reason : sig.kind);
        });
      });
    await bob.page.getByLabel('Message', { exact: true }).click();
    const first = answerTo('jack-1');
    await carol.signal('bob', 'jack-1', 'offer', { sdp: 'v=0', video: true });
    const incoming = bob.page.getByRole('dialog', { name: 'carol is calling you' });
    await incoming.waitFor();
    // Bob was typing: his next keys land on the dialog, whose buttons wait a moment; neither answers the call.
    await bob.page.keyboard.press('Space');
    await bob.page.keyboard.press('Enter');
    assert.equal(await bob.page.locator('#call').getAttribute('data-state'), 'incoming');
    assert.equal(await incoming.isVisible(), true);
    // A deliberate click does, once the buttons are live.
    await incoming.getByRole('button', { name: 'Decline' }).click();
    assert.equal(await first, 'declined');
    await incoming.waitFor({ state: 'hidden' });
    // Calling back at once is turned down without ringing.
    const second = answerTo('jack-2');
    await carol.signal('bob', 'jack-2', 'offer', { sdp: 'v=0', video: true });
    assert.equal(await second, 'declined');
    assert.equal(await incoming.isVisible(), false);
  });

  step('fits a phone-sized window: the conversation list is a drawer', async () => {
    const page: Page = bob.page;
    await page.setViewportSize({ width: 390, height: 760 });
    try {
      const menu = page.getByRole('button', { name: 'Conversations' });
      await menu.waitFor();
      await page.locator('#sidebar').waitFor({ state: 'hidden' }); // the list is hidden on a phone
      await screenshot(page, 'phone');
      await menu.click();
      await page.locator('#sidebar').waitFor({ state: 'visible' });
      assert.equal(await menu.getAttribute('aria-expanded'), 'true');
      await screenshot(page, 'phone-drawer');
      await conv(bob, 'r:general').click();
      await page.locator('#sidebar').waitFor({ state: 'hidden' });
      await page.locator('#conv-title', { hasText: '#general' }).waitFor();
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  step('shows an image whose file is gone as no longer available, not as a broken image', async () => {
    // What retention does to an unused upload (record and links first): here to the image of the DM above.
    const db = new Database(join(dataDir, 'switchboard.db'));
    db.pragma('busy_timeout = 5000');
    try {
      const { id } = db.prepare<[], { id: string }>("SELECT id FROM uploads WHERE name = 'sunset.png'").get()!;
      db.prepare('DELETE FROM upload_links WHERE file = ?').run(id);
      db.prepare('DELETE FROM uploads WHERE id = ?').run(id);
    } finally {
      db.close();
    }
    // bob on another device (a browser without the image in its cache) opens the conversation.
    const phone = await openChat(browser, server.url, 'bob');
    try {
      await signIn(phone);
      await conv(phone, 'd:alice').click();
      await phone.page.locator('#conv-title', { hasText: 'alice' }).waitFor();
      await messages(phone).locator('.file.gone', { hasText: 'sunset.png' }).getByText('no longer available').waitFor();
      assert.equal(await messages(phone).locator('img[alt="sunset.png"]').count(), 0, 'no broken image');
      // The browser itself logs the failed load; nothing else may be logged.
      assert.deepEqual(phone.errors.filter((e) => !/Failed to load resource: .*404/.test(e)), []);
    } finally {
      await phone.context.close();
    }
  });

  step('starts from a conversation list in storage that is not in shape', async () => {
    const dave = await openChat(browser, server.url, 'dave');
    try {
      // Written by something else (another version of the app, an extension): the list is not a list.
      const saved = JSON.stringify({ rooms: 'general', dms: [42, 'bob'], current: {} });
      await dave.page.evaluate(`localStorage.setItem('switchboard:convs:dave', ${JSON.stringify(saved)})`);
      await signIn(dave);
      await dave.page.locator('#conv-title', { hasText: '#general' }).waitFor();
      await conv(dave, 'd:bob').waitFor();
      assert.deepEqual(dave.errors, [], 'no page error');
    } finally {
      await dave.context.close();
    }
  });
});
