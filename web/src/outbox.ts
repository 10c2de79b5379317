/**
 * The user's messages on their way: shown at once as pending items, files
 * uploaded first (with progress, cancellable), then published or sent; a
 * failure stays in the list with Retry and Discard.
 */
import { randomKey, type MediaBody, type SwitchboardClient } from '../../client/src/index.js';
import { errorText } from './connection.js';
import { acknowledged, type Conv, type Pending } from './conversation.js';
import { mediaInfo, mediaKind, UploadFailed, uploadWithProgress } from './upload.js';

export interface OutboxHooks {
  isOpen(c: Conv): boolean;
  /** Renders the open conversation (`mine`: the user just added something, which scrolls to it). */
  render(reason: 'mine' | 'append'): void;
  /** Drops a pending item's element so the next render builds it with its new state; false if none was shown. */
  forget(c: Conv, p: Pending): boolean;
  /** The SDK's queue of unsent messages may have changed (the connection banner counts them). */
  queueChanged(): void;
}

export class Outbox {
  /** Signed out: what fails from now on is nobody's concern. */
  private closed = false;

  constructor(
    private readonly client: Pick<SwitchboardClient, 'publish' | 'send'>,
    /** For uploads, which do not go through the SDK. */
    private readonly cred: { user?: string; token?: string },
    /** Where the server's `upload` route is (endpoints.ts). */
    private readonly httpBase: string,
    private readonly hooks: OutboxHooks,
  ) {}

  sendText(c: Conv, text: string): void {
    const p: Pending = { key: randomKey(), contentType: 'text', body: text, ts: Date.now(), state: 'sending', progress: 0 };
    c.pending.set(p.key, p);
    this.hooks.render('mine');
    this.deliver(c, p);
  }

  sendFiles(c: Conv, files: Iterable<File>): void {
    for (const f of files) void this.sendFile(c, f);
  }

  retry(c: Conv, p: Pending): void {
    this.deliver(c, p);
    this.rerender(c, p);
  }

  discard(c: Conv, p: Pending): void {
    c.pending.delete(p.key);
    if (p.previewUrl) URL.revokeObjectURL(p.previewUrl);
    this.hooks.render('append');
  }

  /** Pending messages say "waiting for the connection" while offline. */
  refresh(c: Conv | null): void {
    if (!c) return;
    let any = false;
    for (const p of c.pending.values()) if (p.state === 'sending') any = this.hooks.forget(c, p) || any;
    if (any) this.hooks.render('append');
  }

  /** Signing out: cancels the uploads. */
  close(convs: Iterable<Conv>): void {
    this.closed = true;
    for (const c of convs) for (const p of c.pending.values()) p.abort?.abort();
  }

  /** Publishes/sends a pending message (the SDK queues it while offline and resends it with the same key). */
  private deliver(c: Conv, p: Pending): void {
    p.state = 'sending';
    const opts = { key: p.key, contentType: p.contentType as 'text' };
    const sent = c.kind === 'room' ? this.client.publish(c.name, p.body as string, opts) : this.client.send(c.name, p.body as string, opts);
    this.hooks.queueChanged();
    sent.then(
      (ack) => {
        if (c.pending.get(p.key) === p) {
          p.state = 'sent';
          acknowledged(c, p, ack.seq);
          this.rerender(c, p);
        }
        this.hooks.queueChanged();
      },
      (err) => {
        if (this.closed || c.pending.get(p.key) !== p) return;
        p.state = 'failed';
        p.error = errorText(err);
        this.rerender(c, p);
        this.hooks.queueChanged();
      },
    );
  }

  private async sendFile(c: Conv, file: File): Promise<void> {
    const mime = file.type || 'application/octet-stream';
    const kind = mediaKind(mime);
    const p: Pending = {
      key: randomKey(),
      contentType: kind,
      body: { url: '', name: file.name || 'file', mime, size: file.size },
      ts: Date.now(),
      state: 'uploading',
      progress: 0,
      abort: new AbortController(),
      ...(kind === 'image' ? { previewUrl: URL.createObjectURL(file) } : {}),
    };
    c.pending.set(p.key, p);
    this.hooks.render('mine');
    const auth = this.cred.token !== undefined ? { token: this.cred.token } : { user: this.cred.user! };
    const info = mediaInfo(file, kind);
    try {
      const up = await uploadWithProgress(this.httpBase, auth, file, {
        signal: p.abort!.signal,
        onProgress: (f) => {
          p.progress = f;
          if (p.progressEl) p.progressEl.value = Math.round(f * 100);
          if (p.progressText) p.progressText.textContent = `${Math.round(f * 100)} %`;
        },
      });
      const body: MediaBody = { url: up.url, name: up.name, mime: up.mime, size: up.size, ...(await info) };
      p.body = body;
      p.abort = undefined;
      this.deliver(c, p);
      this.rerender(c, p);
    } catch (err) {
      if (err instanceof UploadFailed && err.code === 'aborted') {
        c.pending.delete(p.key);
        if (p.previewUrl) URL.revokeObjectURL(p.previewUrl);
        if (this.hooks.isOpen(c)) this.hooks.render('append');
        return;
      }
      p.state = 'failed';
      p.error = `${file.name}: ${err instanceof Error ? err.message : String(err)}`;
      this.rerender(c, p);
    }
  }

  private rerender(c: Conv, p: Pending): void {
    this.hooks.forget(c, p);
    if (this.hooks.isOpen(c)) this.hooks.render('append');
  }
}
