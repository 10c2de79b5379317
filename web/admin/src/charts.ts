/**
 * The live charts (uPlot, bundled): connections and sessions, messages in and
 * deliveries per second, store commit latency. Each chart's figure also
 * carries what it shows as text — an `aria-label` with the latest value and
 * the peak, and `data-points`/`data-last`/`data-peak` — for screen readers
 * and for the browser tests, which cannot read a canvas.
 */
import uPlot from 'uplot';
import { byId, h } from '../../src/dom.js';
import type { Series } from './stats.js';

interface ChartDef {
  id: string;
  /** The figure's caption, also the start of its aria-label. */
  label: string;
  unit: string;
  series: { label: string; key: Exclude<keyof Series, 't'>; color: string }[];
  /** Figures with a fraction (rates, milliseconds). */
  decimals: number;
}

const DEFS: ChartDef[] = [
  {
    id: 'chart-connections',
    label: 'Connections and sessions',
    unit: '',
    series: [
      { label: 'Connections', key: 'connections', color: '#4f46e5' },
      { label: 'Sessions', key: 'sessions', color: '#0891b2' },
    ],
    decimals: 0,
  },
  { id: 'chart-messages', label: 'Messages in per second', unit: '/s', series: [{ label: 'Messages/s', key: 'messagesPerSec', color: '#16a34a' }], decimals: 1 },
  { id: 'chart-deliveries', label: 'Deliveries per second', unit: '/s', series: [{ label: 'Deliveries/s', key: 'deliveriesPerSec', color: '#d97706' }], decimals: 1 },
  {
    id: 'chart-latency',
    label: 'Store commit latency',
    unit: ' ms',
    series: [
      { label: 'p50', key: 'commitP50Ms', color: '#0891b2' },
      { label: 'p99', key: 'commitP99Ms', color: '#dc2626' },
    ],
    decimals: 1,
  },
];

const HEIGHT = 170;

export class Charts {
  private readonly charts: { def: ChartDef; plot: uPlot; figure: HTMLElement; box: HTMLElement }[] = [];
  private readonly resize: ResizeObserver;

  /** Call once the charts' section is shown (a hidden box has no width). */
  constructor(series: Series) {
    const css = getComputedStyle(document.documentElement);
    const muted = css.getPropertyValue('--muted').trim() || '#5f6b7d';
    const line = css.getPropertyValue('--line').trim() || '#e3e6ee';
    const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    for (const def of DEFS) {
      const figure = byId(def.id);
      const box = h('div', { class: 'chart-box', role: 'img', 'aria-label': `${def.label}: no data yet` });
      figure.append(box);
      const opts: uPlot.Options = {
        width: Math.max(200, box.clientWidth),
        height: HEIGHT,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, niceMax(max)] } },
        axes: [
          { ...axis, space: 90, values: (_u, ticks) => ticks.map((t) => clock(t)) },
          { ...axis, size: 52, values: (_u, ticks) => ticks.map((v) => format(v, def.decimals)) },
        ],
        series: [
          { label: 'Time', value: (_u: uPlot, t: number | null) => (t == null ? '–' : clock(t)) },
          ...def.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            fill: def.series.length === 1 ? `${s.color}22` : undefined,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v == null ? '–' : `${format(v, def.decimals)}${def.unit}`),
          })),
        ],
        legend: { live: true },
      };
      const plot = new uPlot(opts, columns(series, def), box);
      this.charts.push({ def, plot, figure, box });
    }
    this.resize = new ResizeObserver(() => {
      for (const c of this.charts) {
        const width = Math.max(200, c.box.clientWidth);
        if (width !== c.plot.width) c.plot.setSize({ width, height: HEIGHT });
      }
    });
    for (const c of this.charts) this.resize.observe(c.box);
  }

  update(series: Series): void {
    for (const { def, plot, figure, box } of this.charts) {
      plot.setData(columns(series, def));
      // Away from the cursor, the legend shows the latest values (uPlot's would show dashes).
      if (plot.cursor.left == null || plot.cursor.left < 0) plot.setLegend({ idx: series.t.length - 1 });
      const first = series[def.series[0]!.key];
      const last = lastValue(first);
      const peak = first.reduce<number>((m, v) => (v != null && v > m ? v : m), 0);
      figure.dataset.points = String(series.t.length);
      figure.dataset.last = last == null ? '' : String(last);
      figure.dataset.peak = String(peak);
      const now = def.series.map((s) => `${s.label} ${fmt(lastValue(series[s.key]), def)}`).join(', ');
      box.setAttribute('aria-label', `${def.label}, last 5 minutes: now ${now}; peak ${def.series[0]!.label} ${fmt(peak, def)}`);
    }
  }

  destroy(): void {
    this.resize.disconnect();
    for (const c of this.charts) {
      c.plot.destroy();
      c.box.remove();
      delete c.figure.dataset.points;
    }
    this.charts.length = 0;
  }
}

/** Seconds since the epoch as a time of day with seconds. */
function clock(t: number): string {
  return new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function columns(series: Series, def: ChartDef): uPlot.AlignedData {
  return [series.t, ...def.series.map((s) => series[s.key])];
}

function lastValue(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i]!;
  return null;
}

function fmt(v: number | null, def: ChartDef): string {
  return v == null ? 'none' : `${format(v, def.decimals)}${def.unit}`;
}

/** A y-axis top that leaves a little room above the highest point; an idle chart still shows 0 to 1. */
function niceMax(max: number | null): number {
  if (max == null || !Number.isFinite(max) || max <= 0) return 1;
  const m = max * 1.15;
  const p = 10 ** Math.floor(Math.log10(m));
  return Math.ceil(m / p) * p;
}

export function format(v: number, decimals = 0): string {
  if (Math.abs(v) >= 10_000) return `${(v / 1000).toFixed(v >= 100_000 ? 0 : 1)}k`;
  return v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : decimals });
}
