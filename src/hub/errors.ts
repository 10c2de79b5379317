import type { ErrorCode } from '../protocol/codes.js';
import type { Refusal } from '../access/rules.js';

/** A refusal the client is told about with a stable code; anything else is a bug. */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Throws an access rule's refusal as a HubError. */
export function check(verdict: Refusal | null): void {
  if (verdict) throw new HubError(verdict.code, verdict.message);
}
