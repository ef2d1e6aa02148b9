/** bench/soak.ts's markdown: the per-rank table and its notes on stdout, each failure on stderr. */
import { markdownTable } from './common.js';
import { SOAK_KINDS } from './soak-plan.js';
import type { SoakResult } from './soak-summary.js';

const MB = 2 ** 20;
export const mb = (bytes: number): string => (bytes / MB).toFixed(1);

export function printSoak(result: SoakResult): void {
  const { config: cfg, machine, kinds, ranks } = result;
  const header = ['rank', 'ops', 'loop s', 'comm s', 'sent MB', 'RSS first MB', 'median', 'last', 'max', 'at 10%', 'growth 10%->end', 'late drift'];
  const rows = ranks.map((r) => [
    r.rank,
    r.ops,
    r.seconds.toFixed(1),
    r.commSeconds.toFixed(1),
    mb(r.bytesSent),
    ...(r.rss ? [mb(r.rss.first), mb(r.rss.median), mb(r.rss.last), mb(r.rss.max), mb(r.rss.at10), `${mb(r.rss.growth)} (${r.rss.growthPct.toFixed(1)}%)`, mb(r.rss.lateDrift)] : Array(7).fill('-')),
  ]);
  console.log(`\n${markdownTable(header, rows)}`);
  console.log(
    `\n${result.ops}/${cfg.ops} ops (plan: ${SOAK_KINDS.map((k) => `${k} ${kinds[k]}`).join(', ')}) over ${cfg.ranks} ranks (${cfg.transport}) in ` +
      `${result.seconds.toFixed(1)} s: ${result.opsPerSec.toFixed(0)} ops/s, ${mb(result.payloadBytes)} MB of results per rank, ${mb(result.wireBytes)} MB on the wire ` +
      `(${result.wireGBps.toFixed(2)} GB/s); ${result.mismatches} mismatches; load average ${machine.loadavg[0]} -> ${result.loadavgEnd[0]} on ${machine.cores} cores.`,
  );
  console.log(
    `RSS in MB${cfg.gc ? ' after a full GC' : ''}, sampled every ${cfg.sampleEvery} ops; late drift = median RSS over the second half of the run ` +
      `minus the median from 10% to 50%.`,
  );
  if (!result.ok) {
    for (const f of result.failures) console.error(`soak FAILED: ${f.message}`);
    if (!result.failures.length) console.error(`soak FAILED: only ${result.ops} of ${cfg.ops} ops completed`);
  }
}
