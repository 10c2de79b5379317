/** JSON over HTTP for the server API: bodies read under a size cap, answers and errors of one shape. */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
