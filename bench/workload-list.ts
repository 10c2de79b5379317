/**
 * Every workload `npm run bench` knows, in the order a full run measures
 * them: bench/workloads.ts's a–f, and those with files of their own. cs sits
 * beside c and fp beside f so that each pair runs on a machine in the same
 * state; g comes after e, whose connect time it is compared with.
 */
import { STORED_ROOMS } from './stored-rooms.js';
import { durableOnPostgres } from './workload-durable-pg.js';
import { G_SESSIONS, publishersFor, reconnectStorm } from './workload-storm.js';
import { WORKLOADS, manyRooms, sizeLabel, type Workload, type WorkloadId } from './workloads.js';

/** cs's measured window in a full run: long enough for the store's bursts (WAL checkpoints) to show in the tail. */
export const CS_MEASURE_MS = 60_000;

export const ALL_WORKLOADS: Record<WorkloadId, Workload> = {
  ...WORKLOADS,
  cs: {
    title: (q) => `many stored rooms: ${sizeLabel(q, 10_000, 500)} connections in stored rooms of 10 (the default configuration), 3 msg/s each`,
    connections: (q) => (q ? 500 : 10_000),
    // The baseline and Socket.IO store nothing: there is nothing of theirs to compare.
    targets: ['switchboard'],
    run: (ctx, target) => manyRooms(ctx, target, { id: 'cs', config: STORED_ROOMS, measureMs: CS_MEASURE_MS, rooms: 'stored rooms' }),
  },
  fp: {
    title: (q) => `durable: ${sizeLabel(q, 1000, 200)} connections in stored rooms of 2 (PostgreSQL), every publish acknowledged, rate stepped up`,
    connections: (q) => (q ? 200 : 1000),
    targets: ['switchboard'],
    run: durableOnPostgres,
  },
  g: {
    title: (q) => `reconnect storm: ${sizeLabel(q, G_SESSIONS.full, G_SESSIONS.quick)} sessions in 2 stored rooms each, all cut at once, back with resume`,
    // The sessions, and the publishers that are not cut (one per 50 rooms).
    connections: (q) => (q ? G_SESSIONS.quick : G_SESSIONS.full) + publishersFor(q ? G_SESSIONS.quick : G_SESSIONS.full),
    // Neither the baseline nor Socket.IO can resume.
    targets: ['switchboard'],
    run: reconnectStorm,
  },
};

export const WORKLOAD_IDS: WorkloadId[] = ['a', 'b', 'c', 'cs', 'd', 'e', 'f', 'fp', 'g'];
