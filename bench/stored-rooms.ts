/**
 * Rooms as a user gets them: stored, by the server's own default rules. The
 * bench config makes every room ephemeral (bench/server.ts) so that a–c
 * compare like with like against servers that store nothing; the workloads
 * about the default configuration (cs, g) put the defaults back. Read from
 * the config schema, so that they follow the server's defaults if those change.
 */
import { configSchema } from '../src/config/schema.js';

export const STORED_ROOMS: Record<string, unknown> = { rooms: { rules: configSchema.parse({}).rooms.rules } };
