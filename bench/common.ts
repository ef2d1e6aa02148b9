/** Helpers shared by the benchmarks: medians, machine description, markdown tables. */
import { cpus, loadavg } from 'node:os';

export function median(xs: readonly number[]): number {
  if (!xs.length) throw new RangeError('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  /** 1, 5 and 15 minute load averages when the bench started (the machine may be shared). */
  loadavg: number[];
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg: loadavgNow(),
  };
}

export const loadavgNow = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

/** A markdown table; cells are printed as given, columns right-aligned unless `left` lists them. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], left: readonly number[] = []): string {
  const align = header.map((_, i) => (left.includes(i) ? ' --- ' : ' ---: '));
  return [header, align, ...rows].map((r, i) => (i === 1 ? `|${r.join('|')}|` : `| ${r.join(' | ')} |`)).join('\n');
}

/** Command-line lists such as `1024,8192`. */
export const splitList = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The torchrun-style environment of local rank `rank` of a one-host group meeting at 127.0.0.1:port. */
export function localRankEnv(rank: number, ranks: number, port: string, token: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RANK: String(rank),
    WORLD_SIZE: String(ranks),
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: String(ranks),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: port,
    DDP_TOKEN: token,
  };
}
