/**
 * A broker in this process, for tests that run several nodes side by side: one `MemoryBus` a simulated cluster,
 * one `MemoryBroker` a node. It keeps the interface's guarantees and no more, so that the cluster layer is tested
 * against what a real broker does: delivery is asynchronous (a later turn of the event loop, as off a socket), in
 * publish order, and a broker cut off from the bus loses what is sent to it meanwhile.
 */
import type { Broker, BrokerHandlers } from './broker.js';
import { checkPrefix, HandlerGate } from './gate.js';

/** One thing to hand a broker on a later turn. */
type Delivery = { to: MemoryBroker; channel: string; payload: Buffer } | { to: MemoryBroker; up: boolean };

export class MemoryBus {
  private readonly members = new Set<MemoryBroker>();
  private readonly severed = new Set<MemoryBroker>();
  /** In publish order; drained by one setImmediate, so that a burst costs one timer, not one a message. */
  private queue: Delivery[] = [];
  private scheduled = false;

  /** Test control: the broker's connection drops (`state(false)`); it publishes nothing and hears nothing. */
  cut(broker: MemoryBroker): void {
    if (this.severed.has(broker)) return;
    this.severed.add(broker);
    if (this.members.has(broker)) this.enqueue({ to: broker, up: false });
  }

  /** Test control: the broker's connection is back, every subscription with it (`state(true)`). */
  heal(broker: MemoryBroker): void {
    if (!this.severed.delete(broker)) return;
    if (this.members.has(broker)) this.enqueue({ to: broker, up: true });
  }

  isCut(broker: MemoryBroker): boolean {
    return this.severed.has(broker);
  }

  /** @internal MemoryBroker's: false when the broker is cut off (it cannot join). */
  join(broker: MemoryBroker): boolean {
    if (this.severed.has(broker)) return false;
    this.members.add(broker);
    return true;
  }

  /** @internal */
  leave(broker: MemoryBroker): void {
    this.members.delete(broker);
  }

  /** @internal Who hears it is decided now, as a server would; whether it arrives, on delivery. */
  send(from: MemoryBroker, channel: string, payload: Buffer): boolean {
    if (!this.members.has(from) || this.severed.has(from)) return false;
    for (const to of this.members) {
      // A copy each, as off a socket: nobody sees another's changes to the bytes, nor the publisher's.
      if (to.prefix === from.prefix && to.hears(channel) && !this.severed.has(to)) this.enqueue({ to, channel, payload: Buffer.from(payload) });
    }
    return true;
  }

  private enqueue(d: Delivery): void {
    this.queue.push(d);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const d of batch) {
      // Left or cut off since: lost, as in flight on a dropped connection.
      if (!this.members.has(d.to)) continue;
      if ('up' in d) d.to.told(d.up);
      else if (!this.severed.has(d.to)) d.to.deliver(d.channel, d.payload);
    }
  }
}

export class MemoryBroker implements Broker {
  readonly kind = 'memory';
  private readonly gate = new HandlerGate();
  private readonly channels = new Set<string>();
  private joined = false;

  constructor(
    private readonly bus: MemoryBus,
    readonly prefix: string,
  ) {
    checkPrefix(prefix);
  }

  get up(): boolean {
    return this.joined && !this.bus.isCut(this);
  }

  async start(handlers: BrokerHandlers): Promise<void> {
    if (this.joined) throw new Error('MemoryBroker.start() called twice');
    if (!this.bus.join(this)) throw new Error('could not connect to the memory bus: this broker is cut off');
    this.joined = true;
    this.gate.open(handlers);
    this.gate.started();
  }

  publish(channel: string, payload: Buffer): boolean {
    return this.joined && this.bus.send(this, channel, payload);
  }

  subscribe(channel: string): void {
    this.channels.add(channel);
  }

  unsubscribe(channel: string): void {
    this.channels.delete(channel);
  }

  async stop(): Promise<void> {
    this.gate.close();
    this.bus.leave(this);
    this.joined = false;
  }

  /** @internal MemoryBus's */
  hears(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** @internal */
  deliver(channel: string, payload: Buffer): void {
    // Unsubscribed while it was on its way: dropped, as the real brokers do.
    if (this.channels.has(channel)) this.gate.message(channel, payload);
  }

  /** @internal */
  told(up: boolean): void {
    this.gate.state(up);
  }
}

const buses = new Map<string, MemoryBus>();

/** The process-wide bus of that name (`memory://NAME`), made on first use. */
export function memoryBus(name: string): MemoryBus {
  let bus = buses.get(name);
  if (!bus) buses.set(name, (bus = new MemoryBus()));
  return bus;
}
