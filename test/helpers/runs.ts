import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import type { RunReport } from '../../src/train/report.js';
import { runLauncher } from './cli.js';

export interface Job {
  rep: RunReport;
  ckpt: Awaited<ReturnType<typeof loadCheckpoint>>;
}

/** `ddp-launch -n N ARGS` saving DIR/NAME (checkpoint) and DIR/NAME.json (report); asserts exit code 0. */
export async function runJob(t: Test, dir: string, name: string, n: number, args: string[], env?: NodeJS.ProcessEnv): Promise<Job> {
  const save = join(dir, name);
  const report = join(dir, `${name}.json`);
  const r = await runLauncher(['-n', String(n), ...args, '--save', save, '--report', report], { env });
  t.equal(r.code, 0, `${name} exits 0${r.code ? `: ${r.stderr.slice(-2000)}` : ''}`);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  return { rep, ckpt: await loadCheckpoint(save) };
}

/**
 * max |a - b| / max |a| over the worst tensor of two checkpoints. The model's dense weights are one flat
 * vector in training (the fused all-reduce buffer), so the `dense/*` entries are measured as that one
 * tensor: measured alone, a 1-element bias that stays near 0 (seen: 4.4e-6, differing by 1.8e-10 from
 * float32 summation order) makes the ratio meaningless.
 */
export function worstRelativeDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { rel: number; name: string } {
  const scale = new Map<string, number>();
  const diff = new Map<string, number>();
  for (const [name, x] of a) {
    const group = name.startsWith('dense/') ? 'dense/* (flat vector)' : name;
    const y = b.get(name);
    if (!y) throw new Error(`tensor ${name} is missing from the second checkpoint`);
    let d = diff.get(group) ?? 0;
    let m = scale.get(group) ?? 0;
    for (let i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i] - y[i]));
      m = Math.max(m, Math.abs(x[i]));
    }
    diff.set(group, d);
    scale.set(group, m);
  }
  let worst = { rel: 0, name: '' };
  for (const [group, d] of diff) {
    const m = scale.get(group)!;
    const rel = m > 0 ? d / m : d;
    if (rel > worst.rel) worst = { rel, name: group };
  }
  return worst;
}

/** Parameters only (embeddings and dense weights), without optimizer state. */
export function params(tensors: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...tensors].filter(([name]) => !name.startsWith('optimizer/')));
}
