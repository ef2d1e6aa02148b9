/**
 * An emulated cluster on one Linux machine: one network namespace per rank ("host"), each joined to a bridge in
 * a switch namespace by a veth pair, with a token-bucket limit (`tc qdisc ... tbf rate R`) on both ends of every
 * pair, so each rank has its own full-duplex link of rate R. Needs root, `ip` and `tc` (iproute2), and the
 * kernel's veth, bridge and sch_tbf. Only the namespaces and interfaces created here are touched (names carry
 * this process's pid), never the host's own; deleting a namespace takes its end of each veth pair with it.
 */
import { execFileSync } from 'node:child_process';

/** How the links are limited: tbf, else netem's rate (a fallback), else not at all (with the reason). */
export type Shaping = { kind: 'tbf' | 'netem'; spec: string } | { kind: 'none'; reason: string };

const run = (cmd: string, args: readonly string[]): string =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const ip = (...args: string[]) => run('ip', args);
const firstLine = (err: unknown) => ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n')[0];

/** Why this process cannot build namespaces, or null when it can (root, and ip, tc present). */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (network namespaces and tc need root)';
  for (const [cmd, arg] of [['ip', '-V'], ['tc', '-V']]) {
    try {
      run(cmd, [arg]);
    } catch (err) {
      return `${cmd} (iproute2) does not run: ${firstLine(err)}`;
    }
  }
  return null;
}

/** Every network still standing, for teardown on a signal or exit. */
const live = new Set<Network>();

export class Network {
  readonly namespaces: string[];
  readonly addresses: string[];
  private readonly switchNs: string;
  /** Rank-side interface names (at most 15 characters: the kernel's limit). */
  private readonly devs: string[];
  private readonly ports: string[];
  shaping: Shaping = { kind: 'none', reason: 'not set up yet' };

  /** `rateBits` null: links without a limit (a reference run). */
  constructor(
    readonly n: number,
    readonly rateBits: number | null,
    tag = `${process.pid}`,
  ) {
    if (n > 250) throw new RangeError('at most 250 ranks per emulated network');
    this.switchNs = `ddpb-${tag}-sw`;
    this.namespaces = Array.from({ length: n }, (_, i) => `ddpb-${tag}-${i}`);
    this.addresses = Array.from({ length: n }, (_, i) => `10.124.0.${i + 1}`);
    this.devs = Array.from({ length: n }, (_, i) => `vb${tag}r${i}`);
    this.ports = Array.from({ length: n }, (_, i) => `vb${tag}s${i}`);
  }

  /** Builds the namespaces, bridge and links, and limits every link; on any failure removes what it built. */
  setUp(): void {
    live.add(this);
    try {
      ip('netns', 'add', this.switchNs);
      ip('-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', this.switchNs, 'link', 'set', 'br0', 'up');
      for (let i = 0; i < this.n; i++) {
        const ns = this.namespaces[i];
        ip('netns', 'add', ns);
        ip('link', 'add', this.devs[i], 'netns', ns, 'type', 'veth', 'peer', 'name', this.ports[i], 'netns', this.switchNs);
        ip('-n', this.switchNs, 'link', 'set', this.ports[i], 'master', 'br0', 'up');
        ip('-n', ns, 'addr', 'add', `${this.addresses[i]}/24`, 'dev', this.devs[i]);
        ip('-n', ns, 'link', 'set', this.devs[i], 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
      }
      this.shaping = this.rateBits === null ? { kind: 'none', reason: 'no limit asked (reference run)' } : this.limit(this.rateBits);
    } catch (err) {
      this.tearDown();
      throw err;
    }
  }

  /**
   * tbf on both ends of every link (the rank's egress and the switch's egress towards it). Burst: 2 ms at the
   * rate (tbf needs at least rate / HZ), and a 100 ms queue so TCP sees delay rather than drops.
   */
  private limit(rateBits: number): Shaping {
    const burst = Math.max(32 * 1024, Math.ceil((rateBits / 8) * 0.002));
    const tbf = ['tbf', 'rate', `${rateBits}bit`, 'burst', String(burst), 'latency', '100ms'];
    const netem = ['netem', 'rate', `${rateBits}bit`, 'limit', '10000'];
    const ends = this.namespaces.flatMap((ns, i) => [
      [ns, this.devs[i]],
      [this.switchNs, this.ports[i]],
    ]);
    const failures: string[] = [];
    for (const [kind, qdisc] of [['tbf', tbf], ['netem', netem]] as const) {
      try {
        for (const [ns, dev] of ends) run('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', ...qdisc]);
        return { kind, spec: `tc qdisc replace dev IF root ${qdisc.join(' ')}` };
      } catch (err) {
        failures.push(`tc qdisc ${kind}: ${firstLine(err)}`);
        for (const [ns, dev] of ends) {
          try {
            run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']);
          } catch {
            // had none
          }
        }
      }
    }
    return { kind: 'none', reason: failures.join('; ') };
  }

  /** Bytes each rank's interface sent and received so far (the kernel's counters: IP and TCP headers included). */
  counters(): { tx: number; rx: number }[] {
    return this.namespaces.map((ns, i) => {
      const [link] = JSON.parse(ip('-n', ns, '-s', '-j', 'link', 'show', 'dev', this.devs[i])) as { stats64: { tx: { bytes: number }; rx: { bytes: number } } }[];
      return { tx: link.stats64.tx.bytes, rx: link.stats64.rx.bytes };
    });
  }

  /** Kills what still runs in these namespaces (only this bench's processes can be there), then deletes them. */
  tearDown(): void {
    for (const ns of [...this.namespaces, this.switchNs]) {
      try {
        for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // never created, or already gone
      }
      try {
        ip('netns', 'del', ns);
      } catch {
        // never created, or already gone
      }
    }
    live.delete(this);
  }
}

/** Tears down every network still standing (on exit, or a signal). */
export function tearDownAll(): void {
  for (const net of [...live]) net.tearDown();
}
