/**
 * compare.svg: eval AUC against training step and against training seconds, one line per strategy, side by
 * side in one self-contained SVG file (no scripts, fonts or external references).
 */
import { legend, legendHeight, linePanel, PANEL, svg } from '../src/report/chart.js';
import { aucCurves, type AucSeries } from '../src/report/compare.js';
import { esc } from '../src/report/format.js';

const PER_ROW = 4;

/** A legend row per four strategies, then AUC vs step (left) and AUC vs training seconds (right). */
export function compareSvg(series: AucSeries[], title: string): string {
  const top = 30 + legendHeight(series.length, PER_ROW);
  const width = 2 * PANEL.width;
  const panel = (x: 'step' | 'seconds', panelTitle: string, xTitle: string, x0: number) =>
    linePanel({ title: panelTitle, xTitle, yTitle: 'eval AUC', series: aucCurves(series, x) }, x0, top);
  const body = [
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
    ...legend(series.map((s) => s.label), PANEL.left, 40, PER_ROW),
    panel('step', 'eval AUC vs step', 'training step', 0),
    panel('seconds', 'eval AUC vs training time', 'training seconds (evaluation excluded)', PANEL.width),
  ];
  return svg(width, top + PANEL.height, title, body, true);
}
