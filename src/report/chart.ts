/**
 * Charts as SVG strings: line charts of labelled series and horizontal bar charts. No scripts, fonts or
 * external references, so a chart stands as a file of its own or inline in an HTML page opened offline.
 */
import { esc, formatTick } from './format.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
/**
 * A dash pattern per series, beside its colour: curves that coincide (strategies that train the same model)
 * stay visible, a dashed line over a solid one, and the key tells them apart without colour too.
 */
const DASHES = ['', '8 4', '2 3', '12 3 3 3', '4 4', '1 3'];

/** stroke-dasharray for series i (none for the first). */
function dash(i: number): string {
  const d = DASHES[i % DASHES.length];
  return d ? ` stroke-dasharray="${d}"` : '';
}
/** One line chart panel's size and margins, in SVG units. */
export const PANEL = { width: 440, height: 300, left: 60, right: 15, top: 30, bottom: 45 };
const BAR = { width: 440, height: 14, gap: 10, top: 30, right: 70, bottom: 40, maxLeft: 160 };
/** About the width of a character at font size 11, to leave room for labels. */
const CHAR_WIDTH = 6.5;
const LEGEND = { row: 18, column: 190 };
/** Above this many points a series is drawn as a line only: markers would hide a dense curve. */
const MAX_MARKERS = 50;

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  label: string;
  points: Point[];
}

export interface LinePanel {
  title: string;
  xTitle: string;
  yTitle: string;
  series: LineSeries[];
  /** Start the y axis at 0 (throughput, shares, bytes) instead of fitting it to the data (AUC, loss). */
  yFromZero?: boolean;
  /** Tick labels of the y axis (default: round numbers). */
  yFormat?: (v: number) => string;
}

export interface BarChart {
  title: string;
  /** Title of the value axis. */
  valueTitle: string;
  /** One group of bars each, labelled on the left. */
  categories: string[];
  /** One bar per category each, in the series' colour; a legend when there are several. */
  series: { label: string; values: number[] }[];
  /** Tick and value labels (default: round numbers). */
  format?: (v: number) => string;
}

/** Round tick values within [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten, about `count` intervals. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const mag = 10 ** Math.floor(Math.log10((hi - lo) / count));
  const fit = (s: number) => Math.abs((hi - lo) / s - count);
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).reduce((best, s) => (fit(s) < fit(best) ? s : best));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Ticks from lo up to one at or beyond hi, so that an axis ends on a labelled value. */
function axisTicks(lo: number, hi: number): number[] {
  const t = ticks(lo, hi > lo ? hi : lo + 1);
  const [a, b] = t.slice(-2);
  if (t.length > 1 && b < hi) t.push(Number((2 * b - a).toPrecision(12)));
  return t;
}

/** [min, max] without spreading: a long run's step records would overflow the argument list. */
function extent(vs: number[]): [number, number] {
  return vs.reduce<[number, number]>(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
}

/** The y axis: from 0 to a tick at or above the data, or fitted to the data with a margin. */
function yAxis(ys: number[], fromZero: boolean): { lo: number; hi: number; ticks: number[] } {
  const [min, max] = extent(ys);
  if (fromZero) {
    const t = axisTicks(0, max);
    return { lo: 0, hi: t[t.length - 1], ticks: t };
  }
  const pad = Math.max((max - min) * 0.08, Math.abs(max) * 0.003, 1e-6);
  return { lo: min - pad, hi: max + pad, ticks: ticks(min - pad, max + pad) };
}

/** An <svg> element: its title (the accessible name, and a tooltip), a white background, then `body`. */
export function svg(width: number, height: number, title: string, body: string[], standalone = false): string {
  // Inline in HTML the SVG namespace is implied; a file of its own needs it declared.
  const ns = standalone ? ' xmlns="http://www.w3.org/2000/svg"' : '';
  return [
    `<svg${ns} width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Height of a legend of n entries, perRow to a row. */
export function legendHeight(n: number, perRow: number): number {
  return Math.ceil(n / perRow) * LEGEND.row;
}

/** Colour keys in series order, perRow to a row, the first one's text baseline at (x0, y0); lines' keys dashed as the lines are. */
export function legend(labels: string[], x0: number, y0: number, perRow: number, lines = true): string[] {
  return labels.map((label, i) => {
    const x = x0 + (i % perRow) * LEGEND.column;
    const y = y0 + Math.floor(i / perRow) * LEGEND.row;
    const color = COLORS[i % COLORS.length];
    return `<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${color}" stroke-width="3"${lines ? dash(i) : ''}/><text x="${x + 28}" y="${y}">${esc(label)}</text>`;
  });
}

/** One panel at (x0, y0): title, frame, grid, ticks, axis titles and one polyline (with markers) per series. */
export function linePanel(p: LinePanel, x0: number, y0: number): string {
  const { width, height, top, bottom } = PANEL;
  const h = height - top - bottom;
  const series = p.series.map((s) => ({ ...s, points: s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y)) }));
  const pts = series.flatMap((s) => s.points);
  const y = pts.length > 0 ? yAxis(pts.map((q) => q.y), p.yFromZero ?? false) : { lo: 0, hi: 1, ticks: [] };
  const yLabels = y.ticks.map(p.yFormat ?? formatTick);
  // Room for the longest y tick label between the axis and the rotated axis title.
  const left = Math.max(PANEL.left, 26 + CHAR_WIDTH * yLabels.reduce((n, s) => Math.max(n, s.length), 0));
  const w = width - left - PANEL.right;
  const out = [
    `<text x="${x0 + left + w / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`,
    `<rect x="${x0 + left}" y="${y0 + top}" width="${w}" height="${h}" fill="none" stroke="#444"/>`,
  ];
  if (pts.length === 0) {
    out.push(`<text x="${x0 + left + w / 2}" y="${y0 + top + h / 2}" text-anchor="middle" fill="#777">no data</text>`);
    return out.join('\n');
  }
  const xt = axisTicks(0, extent(pts.map((q) => q.x))[1]);
  const xMax = xt[xt.length - 1];
  const px = (v: number) => x0 + left + (v / xMax) * w;
  const py = (v: number) => y0 + top + (1 - (v - y.lo) / (y.hi - y.lo)) * h;
  for (const v of xt) {
    out.push(`<line x1="${px(v)}" y1="${y0 + top}" x2="${px(v)}" y2="${y0 + top + h}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px(v)}" y="${y0 + top + h + 15}" text-anchor="middle">${esc(formatTick(v))}</text>`);
  }
  y.ticks.forEach((v, i) => {
    out.push(`<line x1="${x0 + left}" y1="${py(v)}" x2="${x0 + left + w}" y2="${py(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x0 + left - 5}" y="${py(v) + 4}" text-anchor="end">${esc(yLabels[i])}</text>`);
  });
  out.push(`<text x="${x0 + left + w / 2}" y="${y0 + height - 8}" text-anchor="middle">${esc(p.xTitle)}</text>`);
  out.push(`<text transform="translate(${x0 + 14} ${y0 + top + h / 2}) rotate(-90)" text-anchor="middle">${esc(p.yTitle)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const coords = s.points.map((q) => [px(q.x).toFixed(1), py(q.y).toFixed(1)]);
    out.push(`<polyline class="line" fill="none" stroke="${color}" stroke-width="2"${dash(i)} points="${coords.map((c) => c.join(',')).join(' ')}"><title>${esc(s.label)}</title></polyline>`);
    if (coords.length <= MAX_MARKERS) for (const [cx, cy] of coords) out.push(`<circle class="point" cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
  });
  return out.join('\n');
}

/** A line chart of its own: the panel, and below it a legend when there is more than one series. */
export function lineChart(p: LinePanel): string {
  const keyed = p.series.length > 1;
  const perRow = Math.floor((PANEL.width - PANEL.left) / LEGEND.column);
  const height = PANEL.height + (keyed ? legendHeight(p.series.length, perRow) + 6 : 0);
  const key = keyed ? legend(p.series.map((s) => s.label), PANEL.left, PANEL.height + 10, perRow) : [];
  return svg(PANEL.width, height, p.title, [linePanel(p, 0, 0), ...key]);
}

/** Horizontal bars, grouped by category, on a value axis from 0; each bar labelled with its value. */
export function barChart(c: BarChart): string {
  const format = c.format ?? formatTick;
  const left = Math.min(BAR.maxLeft, 12 + CHAR_WIDTH * c.categories.reduce((n, s) => Math.max(n, s.length), 0));
  const w = BAR.width - left - BAR.right;
  const group = c.series.length * BAR.height + BAR.gap;
  const plotBottom = BAR.top + c.categories.length * group;
  const vt = axisTicks(0, extent(c.series.flatMap((s) => s.values).filter(Number.isFinite))[1]);
  const px = (v: number) => left + (v / vt[vt.length - 1]) * w;
  const out = [`<text x="${BAR.width / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(c.title)}</text>`];
  for (const v of vt) {
    out.push(`<line x1="${px(v)}" y1="${BAR.top}" x2="${px(v)}" y2="${plotBottom}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px(v)}" y="${plotBottom + 15}" text-anchor="middle">${esc(format(v))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${BAR.top}" x2="${left}" y2="${plotBottom}" stroke="#444"/>`);
  out.push(`<text x="${left + w / 2}" y="${plotBottom + 32}" text-anchor="middle">${esc(c.valueTitle)}</text>`);
  c.categories.forEach((category, k) => {
    const y0 = BAR.top + k * group + BAR.gap / 2;
    out.push(`<text x="${left - 6}" y="${y0 + (group - BAR.gap) / 2 + 4}" text-anchor="end">${esc(category)}</text>`);
    c.series.forEach((s, i) => {
      const v = s.values[k];
      if (!Number.isFinite(v)) return;
      const y = y0 + i * BAR.height;
      const tip = c.series.length > 1 ? `${category}, ${s.label}: ${format(v)}` : `${category}: ${format(v)}`;
      out.push(`<rect class="bar" x="${left}" y="${y}" width="${(px(v) - left).toFixed(1)}" height="${BAR.height - 2}" fill="${COLORS[i % COLORS.length]}"><title>${esc(tip)}</title></rect>`);
      out.push(`<text x="${px(v) + 4}" y="${y + BAR.height - 4}">${esc(format(v))}</text>`);
    });
  });
  const keyed = c.series.length > 1;
  const perRow = Math.floor((BAR.width - left) / LEGEND.column);
  const key = keyed ? legend(c.series.map((s) => s.label), left, plotBottom + BAR.bottom + 10, perRow, false) : [];
  const height = plotBottom + BAR.bottom + (keyed ? legendHeight(c.series.length, perRow) + 6 : 0);
  return svg(BAR.width, height, c.title, [...out, ...key]);
}
