/** JSON over HTTP for the server API: bodies read under a size cap, answers and errors of one shape; file downloads. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { z } from 'zod';

/** An answer other than success: `{code, message, field}` with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  const body: { code: string; message: string; field?: string } = { code: err.code, message: err.message };
  if (err.field !== undefined) body.field = err.field;
  send(res, err.status, body);
}

/**
 * Most bytes of an oversized body read and thrown away after the 413: a client that is still sending would see its
 * writes fail (EPIPE) before it could read the answer if the connection were cut at once; past this it is cut.
 */
const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

/** Reads a JSON body of at most `max` bytes; refuses more with 413 as soon as it is seen, and reads no more of it. */
export function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = (): void => {
      refused = true;
      chunks.length = 0;
      reject(tooLarge(max));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) refuse();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > max + DISCARD_MAX_BYTES) req.destroy();
        return;
      }
      if (size > max) return refuse();
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!refused) reject(err);
    });
    req.on('end', () => {
      if (refused) return;
      if (size === 0) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')) as unknown);
      } catch (e) {
        reject(new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(e as Error).message}`));
      }
    });
  });
}

function tooLarge(max: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the body is larger than api.maxBodyBytes (${max} bytes)`);
}

/** Validates with a schema; a failure names the first bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
  const message = issue.code === 'unrecognized_keys' ? `unknown field(s): ${field}` : field ? `${field}: ${issue.message}` : issue.message;
  throw new ApiError(400, 'invalid_request', message, field || undefined);
}

/**
 * What a route that answers a file (not JSON) declares instead of a response schema: its content type, for the
 * OpenAPI document. Its `run` returns a `Download`.
 */
export class FileAnswer {
  constructor(
    readonly contentType: string,
    readonly description: string,
  ) {}
}

/** A file to download: a Buffer (sent with its length) or a stream (sent chunked as it is read, never whole in memory). */
export class Download {
  constructor(
    readonly contentType: string,
    /** The name the client saves it under: letters, digits, `.`, `-`, `_` only. */
    readonly filename: string,
    readonly body: Buffer | Readable,
  ) {}
}

export function sendDownload(res: ServerResponse, d: Download): void {
  const headers: Record<string, string | number> = {
    'content-type': d.contentType,
    'content-disposition': `attachment; filename="${d.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (Buffer.isBuffer(d.body)) {
    res.writeHead(200, { ...headers, 'content-length': d.body.length });
    res.end(d.body);
    return;
  }
  res.writeHead(200, headers);
  // A client that goes away ends the stream too (and with it whatever produces it); a failing stream cuts the answer.
  pipeline(d.body, res, () => {});
}
