/**
 * An error that can repeat per message or per request (a store that is down fails every commit, every upload,
 * every API call) is logged once per interval, with a count, instead of once per occurrence: a 10 s PostgreSQL
 * outage under load wrote 21,082 "store commit failed" lines (3.2 MB), which buried what came before it and cost
 * the event loop the writing.
 *
 * The first occurrence of a message is logged at once, as it came. Later ones within the interval are counted;
 * at the end of the interval one line with the same message says how many there were (`repeated`) and carries
 * the fields of the last one (its error). While they keep coming there is one such line per interval; an
 * interval with none ends the series, and the next occurrence is logged at once again.
 *
 * Occurrences are told apart by level and message alone, so the message must be a fixed text (the details go in
 * the fields), or the set of series would grow with them.
 */
export const DEFAULT_REPEAT_INTERVAL_MS = 10_000;

type Level = 'error' | 'warn';

/** What it writes to (a pino logger). */
export type LevelLog = Record<Level, (fields: object, msg: string) => void>;

interface Series {
  level: Level;
  msg: string;
  /** Occurrences since the last line. */
  count: number;
  /** The fields of the last of them. */
  last: object;
  timer: NodeJS.Timeout;
}

export class LogThrottle {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly log: LevelLog,
    readonly intervalMs: number = DEFAULT_REPEAT_INTERVAL_MS,
  ) {}

  error(fields: object, msg: string): void {
    this.record('error', fields, msg);
  }

  warn(fields: object, msg: string): void {
    this.record('warn', fields, msg);
  }

  /** Logs what was counted and not yet told, and ends every series (at a stop). */
  flush(): void {
    for (const s of this.series.values()) {
      clearTimeout(s.timer);
      this.summary(s);
    }
    this.series.clear();
  }

  private record(level: Level, fields: object, msg: string): void {
    const key = `${level}\n${msg}`;
    const s = this.series.get(key);
    if (s) {
      s.count++;
      s.last = fields;
      return;
    }
    this.log[level](fields, msg);
    const series: Series = { level, msg, count: 0, last: fields, timer: this.startInterval(key) };
    this.series.set(key, series);
  }

  private startInterval(key: string): NodeJS.Timeout {
    return setTimeout(() => this.endInterval(key), this.intervalMs).unref();
  }

  private endInterval(key: string): void {
    const s = this.series.get(key);
    if (!s) return;
    if (s.count === 0) {
      this.series.delete(key);
      return;
    }
    // Still coming: one line for this interval, and the next one counts too.
    this.summary(s);
    s.timer = this.startInterval(key);
  }

  private summary(s: Series): void {
    if (s.count === 0) return;
    this.log[s.level]({ ...s.last, repeated: s.count, intervalMs: this.intervalMs }, s.msg);
    s.count = 0;
  }
}
