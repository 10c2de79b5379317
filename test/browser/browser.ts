/**
 * Helpers for the browser tests: Debian's Chromium driven by playwright-core
 * (never a downloaded browser), suites skipped without it, one browser context
 * per user, every console error and page error collected so a test can fail on
 * them, steps whose failures say what each page showed, and screenshots for
 * the README when UPDATE_SCREENSHOTS=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { REPO_ROOT, type TestServer } from '../helpers/server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (null: they can). Under CI a missing browser is a failure, elsewhere a skip. */
export function missingBrowser(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH`;
}

/** `describe` for tests that need Chromium: skipped without it, and under CI=true a failure instead. */
export function describeInBrowser(name: string, opts: { timeout: number }, fn: () => void): void {
  const missing = missingBrowser();
  if (missing && process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium', () => assert.fail(`${missing} — CI must run the browser tests`));
    });
  } else {
    describe(name, { skip: missing ?? false, ...opts }, fn);
  }
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
    ],
  });
}

export interface User {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors so far (a test takes them with `errors.splice(0)`). */
  errors: string[];
}

/** A browser context (its own storage, like another person's browser) with the chat open. */
export async function openChat(browser: Browser, baseUrl: string, name: string, viewport = { width: 1280, height: 800 }): Promise<User> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${name}: console.error: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`${name}: page error: ${e.stack ?? e.message}`));
  await page.goto(baseUrl);
  return { name, context, page, errors };
}

/** Signs in with a dev name through the form and waits for the connection. */
export async function signIn(u: User): Promise<void> {
  const { page } = u;
  await page.getByLabel('User name').fill(u.name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#me-box[data-state="connected"]').waitFor();
}

/**
 * What a user's page shows, as text: for a failed step's message, since a
 * timeout alone ("waiting for locator …") does not say what was there instead.
 */
export async function describePage(u: User): Promise<string> {
  // A page that hangs must not hold up the report of the failure it may have caused.
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('(page did not answer within 3 s)'), 3000).unref());
  return Promise.race([readPage(u), timeout]);
}

async function readPage(u: User): Promise<string> {
  try {
    return await u.page.evaluate(() => {
      interface Node {
        hidden: boolean;
        textContent: string | null;
        className: string;
        dataset: { key?: string };
        children: ArrayLike<Node>;
      }
      const doc = (globalThis as unknown as { document: { querySelector(s: string): Node | null } }).document;
      // A hidden element keeps its last text: say "hidden" rather than repeat it.
      const text = (sel: string) => {
        const n = doc.querySelector(sel);
        return !n ? '(none)' : n.hidden ? '(hidden)' : (n.textContent ?? '').replace(/\s+/g, ' ').trim();
      };
      const items = Array.from(doc.querySelector('#messages')?.children ?? []).map(
        (li) => `  [${li.dataset.key ?? ''}] .${li.className.replace(/ /g, '.')}: ${(li.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 100)}`,
      );
      return [`title: ${text('#conv-title')}; banner: ${text('#banner')}; me: ${text('#me-box')}`, ...items].join('\n');
    });
  } catch (e) {
    return `(page not readable: ${(e as Error).message})`;
  }
}

/**
 * `it` for a step of a browser test: a failure's message also says what each
 * page showed and what the server logged last.
 */
export function stepOf(users: () => User[], server: () => TestServer): (name: string, fn: () => Promise<void>) => void {
  return (name, fn) => {
    it(name, async () => {
      try {
        await fn();
      } catch (e) {
        const pages = await Promise.all(users().map(async (u) => `${u.name}'s page:\n${await describePage(u)}`));
        const logs = server().logs().slice(-15).map((l) => JSON.stringify(l));
        if (e instanceof Error) e.message += `\n\n${pages.join('\n')}\n\nserver's last log lines:\n${logs.join('\n')}`;
        throw e;
      }
    });
  };
}

/** The size of an image once the browser has loaded it (0×0: it failed to load). */
export async function loadedImageSize(u: User, img: Locator): Promise<{ w: number; h: number }> {
  await img.waitFor();
  await u.page.waitForFunction((el) => (el as unknown as { complete: boolean }).complete, await img.elementHandle());
  return img.evaluate((el) => ({ w: (el as unknown as { naturalWidth: number }).naturalWidth, h: (el as unknown as { naturalHeight: number }).naturalHeight }));
}

const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(REPO_ROOT, 'docs', 'screenshots') : null;

/** Saves a screenshot under docs/screenshots/ when UPDATE_SCREENSHOTS is set. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(250); // let transitions settle
  // Transient toasts (the server's welcome) are left out of the pictures.
  await page.screenshot({ path: join(SHOTS, `${name}.png`), style: '.toasts { visibility: hidden; }' });
}

// ── a real PNG, drawn here (no fixture files) ─────────────────────────────

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A width×height RGB PNG: a sunset gradient with a sun, so a screenshot shows something. */
export function drawPng(width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x++) {
      const t = y / height;
      const dx = x - width * 0.62;
      const dy = y - height * 0.55;
      const sun = dx * dx + dy * dy < (height * 0.18) ** 2;
      const sea = y > height * 0.68;
      const [r, g, b] = sun ? [255, 214, 102] : sea ? [40 + 30 * t, 70 + 40 * t, 140 + 30 * t] : [255 - 90 * t, 120 + 40 * t, 90 + 120 * t];
      raw[row + 1 + x * 3] = r;
      raw[row + 2 + x * 3] = g;
      raw[row + 3 + x * 3] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
