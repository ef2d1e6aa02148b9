/**
 * Every sync strategy on the same job, on the Criteo sample (default) or the synthetic quick data: a thin
 * preset over `ddp-launch --compare`, which runs one real job per strategy and writes the table, JSON and chart.
 * Prints one JSON line (machine, job, per-strategy rows) and the markdown table.
 *
 *   node dist/bench/compare-strategies.js [--data criteo|quick] [--criteo PATH] [--ranks 2] [--repeats 1]
 *                                         [--strategies LIST] [--out DIR]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './common.js';

const CLI = fileURLToPath(new URL('../launcher/cli.js', import.meta.url));
const DEFAULT_CRITEO = fileURLToPath(new URL('../../../shared/data/criteo-sample/train.tsv.gz', import.meta.url));
const STRATEGIES = 'allreduce,dense,local-clip,local-sgd:4,local-sgd:16,hybrid,sharded,ps,async-ps:2';

/** The job per data set: small models, so a whole comparison takes minutes on two cores. */
function jobArgs(data: string, criteo: string): string[] {
  if (data === 'quick') return ['--mlp', '64,64', '--epochs', '1', '--eval-every', '32', '--check-every', '32'];
  if (data === 'criteo') {
    if (!existsSync(criteo)) throw new Error(`Criteo sample not found at ${criteo} (pass --criteo PATH)`);
    return ['--data', `criteo:${criteo}`, '--mlp', '64,64', '--epochs', '3', '--global-batch', '512', '--eval-every', '4', '--check-every', '4'];
  }
  throw new Error(`--data ${data}: expected criteo or quick`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: 'criteo' },
      criteo: { type: 'string', default: DEFAULT_CRITEO },
      ranks: { type: 'string', default: '2' },
      repeats: { type: 'string', default: '1' },
      strategies: { type: 'string', default: STRATEGIES },
      out: { type: 'string' },
    },
  });
  const out = values.out ?? `compare-${values.data}-${Date.now()}`;
  const args = ['--compare', values.strategies, '--compare-out', out, '--compare-repeats', values.repeats, '-n', values.ranks, ...jobArgs(values.data, values.criteo)];
  console.error(`compare-strategies: ddp-launch ${args.join(' ')}`);
  // The comparison's progress goes to stderr; its table is read back from the files it writes.
  const code = await new Promise<number | null>((resolve) => spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 2, 2] }).on('close', resolve));
  if (code !== 0) throw new Error(`ddp-launch --compare exited with ${code}`);
  const json = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as Record<string, unknown>;
  console.log(JSON.stringify({ machine: machineInfo(), data: values.data, args, ...json }));
  console.log(`\n${readFileSync(join(out, 'compare.md'), 'utf8')}`);
  console.log(`Files (chart compare.svg, per-run reports): ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
