/** Text for the SVG charts and HTML pages: escaping, and the number formats shared by tables and axes. */

/** Escapes text for element content and double-quoted attributes. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Bytes in decimal units: 812 B, 127.1 kB, 8.71 MB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** An axis tick: 4 significant digits, thousands separated. */
export function formatTick(v: number): string {
  return Math.abs(v) >= 1000 ? v.toLocaleString('en') : String(Number(v.toPrecision(4)));
}

/** A count such as samples/s: rounded, thousands separated. */
export function formatCount(v: number): string {
  return Math.round(v).toLocaleString('en');
}
