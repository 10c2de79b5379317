/** The start-up sweep of the uploads folder, on a real folder: what no record points to goes, nothing else. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { FsBlobStore } from '../../src/media/blob-store.js';
import { sweepStrayBlobs } from '../../src/media/sweep.js';
import type { Upload } from '../../src/store/store.js';

const HOUR = 3_600_000;

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('sweep of stray upload files', () => {
  it('removes old files without a record and old unfinished ones, and leaves everything else', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sweep-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const now = Date.now();
    const put = (name: string, ageMs: number): void => {
      const path = join(dir, name);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, 'bytes');
      const when = new Date(now - ageMs);
      utimesSync(path, when, when);
    };
    put('ke/keptWithRecord01', 5 * HOUR);
    put('no/noRecordOld00002', 5 * HOUR);
    put('no/noRecordNew00003', 60_000);
    put('cu/cutShortOld00004.part', 5 * HOUR);
    put('un/underWayNew00005.part', 60_000);
    put('README', 5 * HOUR);
    put('ab/notAnUpload.txt', 5 * HOUR);
    put('zz/inTheWrongGroup06', 5 * HOUR);
    const asked: string[] = [];
    const records = {
      getUpload: async (id: string): Promise<Upload | null> => {
        asked.push(id);
        return id === 'keptWithRecord01' ? { id, owner: 'ann', name: 'a.png', mime: 'image/png', size: 5, ts: now - 5 * HOUR } : null;
      },
    };
    const removed = await sweepStrayBlobs(new FsBlobStore(dir), records, now - HOUR);
    assert.equal(removed, 2);
    assert.deepEqual(files(dir), [
      'README',
      'ab/notAnUpload.txt',
      'ke/keptWithRecord01',
      'no/noRecordNew00003',
      'un/underWayNew00005.part',
      'zz/inTheWrongGroup06',
    ]);
    assert.deepEqual(asked.sort(), ['keptWithRecord01', 'noRecordOld00002'], 'only finished files old enough are looked up');
  });

  it('does nothing when the folder does not exist yet', async () => {
    const records = { getUpload: async (): Promise<Upload | null> => assert.fail('nothing to look up') };
    assert.equal(await sweepStrayBlobs(new FsBlobStore(join(tmpdir(), 'switchboard-no-such-folder-x9')), records, Date.now()), 0);
  });
});
