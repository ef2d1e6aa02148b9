/**
 * The comparison chart: eval AUC against training step and against training seconds, one line per strategy,
 * as one self-contained SVG (no scripts, fonts or external references).
 */

export interface Series {
  label: string;
  points: { step: number; seconds: number; auc: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const PANEL = { width: 440, height: 300, left: 60, right: 15, top: 30, bottom: 45 };
const LEGEND_ROW = 18;

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

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function label(v: number): string {
  return Math.abs(v) >= 1000 ? v.toLocaleString('en') : String(Number(v.toPrecision(4)));
}

/** One panel: axes, grid, ticks and the series' polylines, drawn at horizontal offset x0. */
function panel(series: Series[], x0: number, y0: number, x: 'step' | 'seconds', title: string, xTitle: string): string {
  const { width, height, left, right, top, bottom } = PANEL;
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[x]);
  const ys = pts.map((p) => p.auc);
  // The x axis ends on a tick at or beyond the last point.
  const xt = ticks(0, Math.max(...xs, 1e-9));
  const xMax = xt.length > 1 && xt[xt.length - 1] < Math.max(...xs) ? Number((2 * xt[xt.length - 1] - xt[xt.length - 2]).toPrecision(12)) : Math.max(...xs, 1e-9);
  if (xMax > xt[xt.length - 1]) xt.push(xMax);
  let yLo = Math.min(...ys);
  let yHi = Math.max(...ys);
  const pad = Math.max((yHi - yLo) * 0.08, 0.002);
  yLo -= pad;
  yHi += pad;
  const w = width - left - right;
  const h = height - top - bottom;
  const px = (v: number) => x0 + left + (v / xMax) * w;
  const py = (v: number) => y0 + top + (1 - (v - yLo) / (yHi - yLo)) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + left + w / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${x0 + left}" y="${y0 + top}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
  for (const v of xt) {
    out.push(`<line x1="${px(v)}" y1="${y0 + top}" x2="${px(v)}" y2="${y0 + top + h}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px(v)}" y="${y0 + top + h + 15}" text-anchor="middle">${label(v)}</text>`);
  }
  for (const v of ticks(yLo, yHi)) {
    out.push(`<line x1="${x0 + left}" y1="${py(v)}" x2="${x0 + left + w}" y2="${py(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x0 + left - 5}" y="${py(v) + 4}" text-anchor="end">${label(v)}</text>`);
  }
  out.push(`<text x="${x0 + left + w / 2}" y="${y0 + height - 8}" text-anchor="middle">${esc(xTitle)}</text>`);
  out.push(`<text transform="translate(${x0 + 14} ${y0 + top + h / 2}) rotate(-90)" text-anchor="middle">eval AUC</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const coords = s.points.map((p) => `${px(p[x]).toFixed(1)},${py(p.auc).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(' ')}"><title>${esc(s.label)}</title></polyline>`);
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
    }
  });
  return out.join('\n');
}

/** The whole chart: a legend row, then AUC vs step (left) and AUC vs training seconds (right). */
export function compareSvg(series: Series[], title: string): string {
  const legendRows = Math.ceil(series.length / 4);
  const top = 30 + legendRows * LEGEND_ROW;
  const width = 2 * PANEL.width;
  const height = top + PANEL.height;
  const legend = series.map((s, i) => {
    const x = 60 + (i % 4) * 200;
    const y = 40 + Math.floor(i / 4) * LEGEND_ROW;
    const color = COLORS[i % COLORS.length];
    return `<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${color}" stroke-width="3"/><text x="${x + 28}" y="${y}">${esc(s.label)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
    ...legend,
    panel(series, 0, top, 'step', 'eval AUC vs step', 'training step'),
    panel(series, PANEL.width, top, 'seconds', 'eval AUC vs training time', 'training seconds (evaluation excluded)'),
    '</svg>',
    '',
  ].join('\n');
}
