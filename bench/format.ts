/** Number formats of the benchmark's markdown (bench/report.ts, bench/cluster-report.ts); "—" for what is not a number. */

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

export const fmt = (n: number | null | undefined, d = 2): string => (n === undefined || n === null || !Number.isFinite(n) ? '—' : n.toFixed(d));

export const pct = (r: number): string => (!Number.isFinite(r) ? '—' : r === 1 ? '100%' : `${(Math.floor(r * 100_000) / 1000).toFixed(3)}%`);

export const ratio = (sb: number, base: number, d = 2): string => (Number.isFinite(sb) && Number.isFinite(base) && base > 0 ? `${(sb / base).toFixed(d)}×` : '—');
