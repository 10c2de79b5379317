/**
 * What happens to each message a client sends, after its frame has been
 * decoded: the rate check, the command's schema, then the command itself.
 * While an `auth` (a token check) or a `join` of a stored room (a store read)
 * is being answered, the commands after it are parked and run in order once
 * it is done, so that a client may pipeline them. Every answer is a reply or
 * an error carrying the request's id. Knows no socket: the connection is its
 * host, and tests drive it with a fake one.
 */
import { HubError } from '../hub/errors.js';
import { handlers, isRouted, type RoutedType } from '../hub/dispatch.js';
import type { Hub } from '../hub/hub.js';
import type { HubSession } from '../hub/session.js';
import type { DecodedMessage } from '../protocol/codec.js';
import { CloseCode, ErrorCode } from '../protocol/codes.js';
import { commandSchemas, describeIssues, isCommandType, MAX_TOKEN_LENGTH, type CommandOf, type CommandType, type RequestId } from '../protocol/commands.js';
import type { ServerPush } from '../protocol/pushes.js';
import { extraCost } from '../protocol/sync-cost.js';

export type HostState = 'pending' | 'open' | 'closing' | 'closed';

/** The connection the commands come from. */
export interface PipelineHost {
  readonly state: HostState;
  /** The session commands act as (meaningful once open). */
  readonly session: HubSession;
  /** Queues a push for the client (a reply, an error, a pong). */
  push(message: ServerPush): void;
  close(code: number, reason: string): void;
  /** Verifies a token and opens the session, or refreshes an open one's credentials; answers `id` itself. */
  authenticate(id: RequestId | undefined, token: string, resume: boolean): Promise<void>;
}

/** The session's token bucket (transport/rate-limit.ts). */
export interface RateGate {
  take(now: number): 'ok' | 'refuse' | 'flood';
  charge(tokens: number): void;
}

export interface PipelineLimits {
  messagesPerSecond: number;
  burst: number;
  maxTextLength: number;
}

export interface PipelineDeps {
  hub: Hub;
  limits: PipelineLimits;
  log: { error(obj: object, msg: string): void };
  now(): number;
  /** Counted as messages arrive and publishes are acknowledged (metrics); by default nothing. */
  counters?: CommandCounters;
}

/** What the metrics (observe/metrics.ts) are told: one call per message received, one per publish or send acked. */
export interface CommandCounters {
  /** A message arrived (rate-limited or not): its command type, or `invalid` (not JSON, no known type). */
  received(type: CommandType | 'invalid'): void;
  /** A publish or send was acknowledged `ms` after it was run (a stored one: once the store has it). */
  acked(type: 'publish' | 'send', ms: number): void;
}

const NO_COUNTERS: CommandCounters = { received: () => {}, acked: () => {} };

/** A command the hub handles (not auth or ping). */
type Routed = CommandOf<RoutedType>;
/** Every command but ping, which is answered at once. */
type Parkable = CommandOf<Exclude<CommandType, 'ping'>>;

export class CommandPipeline {
  /**
   * Commands that arrived while an auth or a join was being answered (a token check, a store read): they run
   * once it is done, in order, so that a client may send `auth`, `join` and `publish` back to back.
   */
  private parked: Parkable[] | null = null;
  private readonly counters: CommandCounters;

  constructor(
    private readonly host: PipelineHost,
    private readonly deps: PipelineDeps,
    private readonly rate: RateGate,
  ) {
    this.counters = deps.counters ?? NO_COUNTERS;
  }

  private get live(): boolean {
    return this.host.state === 'pending' || this.host.state === 'open';
  }

  /** One decoded message of a frame. */
  readonly receive = (message: DecodedMessage): void => {
    if (!this.live) return;
    const raw = message.ok ? message.value : undefined;
    const id = requestIdOf(raw);
    const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
    this.counters.received(isCommandType(type) ? type : 'invalid');
    const verdict = this.rate.take(this.deps.now());
    if (verdict === 'flood') return this.host.close(CloseCode.Flood, 'flooding: too many messages');
    if (verdict === 'refuse') return this.error(id, ErrorCode.RateLimited, `more than ${this.deps.limits.messagesPerSecond} messages per second`);
    if (!message.ok)
      return message.code ? this.error(undefined, message.code, message.error) : this.error(undefined, ErrorCode.InvalidJson, `not valid JSON: ${message.error}`);
    if (!isCommandType(type)) return this.error(id, ErrorCode.UnknownType, type === undefined ? 'a message needs a type' : `unknown type ${JSON.stringify(type)}`);
    const parsed = commandSchemas[type].safeParse(raw);
    if (!parsed.success) {
      // A resuming session's DMs are held until its first sync: a refused one must not hold them for ever.
      if (type === 'sync') this.deps.hub.syncRefused(this.host.session);
      return this.error(id, ErrorCode.InvalidRequest, `${type}: ${describeIssues(parsed.error)}`);
    }
    const cmd = parsed.data;
    if (cmd.type === 'sync') this.rate.charge(extraCost(cmd));
    if (cmd.type === 'ping') return this.host.push(cmd.id === undefined ? { type: 'pong' } : { type: 'pong', id: cmd.id });
    if (this.parked === null) this.handle(cmd);
    else if (this.parked.length < this.deps.limits.burst) this.parked.push(cmd);
    else this.error(id, ErrorCode.RateLimited, 'too many commands while an auth or a join is in progress');
  };

  private handle(cmd: Parkable): void {
    if (cmd.type === 'auth') {
      // Too long to be checked: refused as a token that failed its check is.
      if (cmd.token.length > MAX_TOKEN_LENGTH) {
        const reason = `token longer than ${MAX_TOKEN_LENGTH} characters`;
        if (this.host.state === 'pending') this.host.close(CloseCode.Unauthorized, reason);
        else this.error(cmd.id, ErrorCode.InvalidToken, reason);
        return;
      }
      // Verifying a token may take a moment (a JWT); what follows it waits, so that a client may send auth and
      // its first commands together.
      this.parked = [];
      void this.host
        .authenticate(cmd.id, cmd.token, cmd.resume ?? false)
        .catch((err: unknown) => this.internalError(cmd.id, err))
        .then(this.unpark);
      return;
    }
    if (this.host.state !== 'open') return this.error(cmd.id, ErrorCode.NotAuthenticated, 'send auth with a token first');
    if (isRouted(cmd.type)) this.run(cmd);
  }

  private run(cmd: Routed): void {
    // A publish's or send's time to its ack (the metrics' histogram); performance is Node's global clock.
    const timed = cmd.type === 'publish' || cmd.type === 'send' ? cmd.type : null;
    const start = timed ? performance.now() : 0;
    try {
      const data = (handlers[cmd.type] as (s: HubSession, c: Routed, ...rest: unknown[]) => unknown)(this.host.session, cmd, this.deps.hub, this.deps.limits);
      // Durable operations answer once the store has: the reply then follows whatever they delivered.
      if (data instanceof Promise) {
        const settled = data.then(
          (v: unknown) => {
            this.reply(cmd.id, v);
            if (timed) this.counters.acked(timed, performance.now() - start);
          },
          (err: unknown) => this.fail(cmd.id, err),
        );
        if (cmd.type === 'join') {
          this.parked = [];
          // Whatever happens to the reply, what waits behind the join must not wait for ever.
          void settled.catch((err: unknown) => this.internalError(cmd.id, err)).then(this.unpark);
        }
      } else {
        this.reply(cmd.id, data);
        if (timed) this.counters.acked(timed, performance.now() - start);
      }
    } catch (err) {
      this.fail(cmd.id, err);
    }
  }

  /** Runs what waited, until another auth or join has to be waited for. */
  private readonly unpark = (): void => {
    const list = this.parked ?? [];
    this.parked = null;
    for (let i = 0; i < list.length; i++) {
      if (!this.live) return;
      this.handle(list[i]!);
      if (this.parked !== null) {
        (this.parked as Parkable[]).push(...list.slice(i + 1));
        return;
      }
    }
  };

  private reply(id: RequestId | undefined, data: unknown): void {
    if (id !== undefined && this.host.state === 'open') this.host.push({ type: 'reply', id, data: data ?? {} });
  }

  private fail(id: RequestId | undefined, err: unknown): void {
    if (this.host.state !== 'open') return;
    if (err instanceof HubError) this.error(id, err.code, err.message);
    else this.internalError(id, err);
  }

  error(id: RequestId | undefined, code: ErrorCode, message: string): void {
    // Nothing more is said to a connection that is closing (its close code says why).
    if (!this.live) return;
    this.host.push(id === undefined ? { type: 'error', code, message } : { type: 'error', id, code, message });
  }

  internalError(id: RequestId | undefined, err: unknown): void {
    this.deps.log.error({ session: this.host.session.id, err }, 'command failed');
    this.error(id, ErrorCode.Internal, 'internal error');
  }
}

function requestIdOf(raw: unknown): RequestId | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'number' || (typeof id === 'string' && id.length <= 64) ? id : undefined;
}
