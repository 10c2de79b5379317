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

/** Reads a JSON body of at most `max` bytes; refuses more with 413 as soon as it is seen, without reading on. */
export async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8')) as unknown;
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
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
