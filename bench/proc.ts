/** CPU time and memory of a process, from /proc (Linux). */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcSample {
  /** utime + stime, ms (clock-tick resolution, usually 10 ms). */
  cpuMs: number;
  /** Resident set size, KiB. */
  rssKb: number;
  /** Peak resident set size so far, KiB. */
  hwmKb: number;
  /** When the sample was taken (performance.now(), ms). */
  at: number;
}

// sysconf(_SC_CLK_TCK) is 100 on every Linux that Node supports.
const CLK_TCK = 100;

export function sampleProc(pid: number | 'self'): ProcSample {
  const at = performance.now();
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime field 15.
  const ticks = Number(f[11]) + Number(f[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return { cpuMs: (ticks * 1000) / CLK_TCK, rssKb: kb(status, 'VmRSS'), hwmKb: kb(status, 'VmHWM'), at };
}

function kb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

export function procAvailable(): boolean {
  try {
    sampleProc('self');
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU time the machine spent busy (all CPUs, ms) on anything but interrupts,
 * for telling whether other processes ran during a window. Interrupt and
 * softirq time, and the ksoftirqd threads that take over softirq work under
 * load, are left out: on loopback they are the benchmark's own network
 * traffic, not someone else's.
 */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  const busy = f[0]! + f[1]! + f[2]! + f[7]!;
  return (busy * 1000) / CLK_TCK - softirqThreadsMs();
}

let softirqPids: number[] | null = null;

function softirqThreadsMs(): number {
  if (softirqPids === null) {
    softirqPids = [];
    try {
      for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          if (readFileSync(`/proc/${d}/comm`, 'latin1').startsWith('ksoftirqd')) softirqPids.push(Number(d));
        } catch {
          // gone
        }
      }
    } catch {
      // no /proc listing
    }
  }
  let ms = 0;
  for (const pid of softirqPids) {
    try {
      ms += sampleProc(pid).cpuMs;
    } catch {
      // gone
    }
  }
  return ms;
}

/**
 * A fixed piece of CPU work (encode a small message, copy it into a Buffer,
 * sum its bytes), timed: ns per round, the best of 5 × 4,000 rounds. The same
 * machine gives different figures when its CPUs are shared with neighbours
 * that no process list shows; results taken at different speeds do not
 * compare well.
 */
export const CALIBRATION_SOURCE = `(() => {
  const msg = { type: 'message', id: 'mwvdauct-d241407f-0', room: 'general', seq: 42, from: 'bob', contentType: 'text', body: 'hello there, how are you doing today?', ts: 1795565437229 };
  let best = Infinity, sink = 0;
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < 4000; i++) { msg.seq = i; const b = Buffer.from(JSON.stringify(msg)); for (let k = 0; k < b.length; k += 8) sink += b[k]; }
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 4000);
  }
  return sink > 0 ? best : -1;
})()`;

export function calibrate(): number {
  return (0, eval)(CALIBRATION_SOURCE) as number;
}

/** calibrate() in a fresh process on the given CPUs (the server's). */
export function calibrateOn(cpus: string | null): number {
  const args = ['-e', `process.stdout.write(String(${CALIBRATION_SOURCE}))`];
  const r = cpus ? spawnSync('taskset', ['-c', cpus, process.execPath, ...args], { encoding: 'utf8' }) : spawnSync(process.execPath, args, { encoding: 'utf8' });
  const v = Number(r.stdout);
  return Number.isFinite(v) ? v : NaN;
}

export interface NetCounters {
  /** Packets dropped because a CPU's input backlog was full (net.core.netdev_max_backlog), all CPUs. */
  backlogDrops: number;
  /** TCP segments retransmitted (this network namespace). */
  tcpRetransmits: number;
}

/** On loopback a dropped packet is retransmitted after at least 200 ms: it shows as a latency spike, not as a loss. */
export function netCounters(): NetCounters {
  let backlogDrops = 0;
  try {
    for (const line of readFileSync('/proc/net/softnet_stat', 'latin1').trim().split('\n')) backlogDrops += parseInt(line.trim().split(/\s+/)[1] ?? '0', 16);
  } catch {
    backlogDrops = NaN;
  }
  let tcpRetransmits = NaN;
  try {
    const tcp = readFileSync('/proc/net/snmp', 'latin1')
      .split('\n')
      .filter((l) => l.startsWith('Tcp:'));
    const names = tcp[0]!.split(/\s+/);
    const values = tcp[1]!.split(/\s+/);
    tcpRetransmits = Number(values[names.indexOf('RetransSegs')]);
  } catch {
    // not Linux
  }
  return { backlogDrops, tcpRetransmits };
}
