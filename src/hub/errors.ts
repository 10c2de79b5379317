import type { ErrorCode } from '../protocol/codes.js';

/** A refusal the client is told about with a stable code; anything else is a bug. */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
