/**
 * The large-batch study: does clipping matter at large batch? The same number of samples of the planted
 * synthetic data at each batch size, under each scale rule (none, sqrt, linear, cowclip) and clip form (off, paper:
 * clipping, auto: every row normalised to its threshold), one real `ddp-launch` job each (at the base batch every
 * rule keeps the values as given: one job, run once, stands for all rules there). Reports the final eval
 * AUC against the data's oracle, the gap to the smallest batch of the same rule and form, CowClip's clip fraction
 * (all rows, and by the ID's batch count: tail 1 / torso 2-31 / head 32+) and the training time. Each run is evaluated
 * once per pass over the training rows, so the table also shows the best pass (what early stopping would keep): with
 * several passes a small batch can overfit before the end. A run that takes longer than --timeout-per-run is
 * reported as skipped, so the long configurations can run where a GPU is and be left out elsewhere. JSON (one line)
 * and a markdown table on stdout, progress on stderr; the runs' reports under --out.
 * A long study stopped part-way picks up where it was with --resume: a configuration whose report is already in --out
 * is read, not rerun, provided the study's parameters (recorded there in study.json) are the same; --table-only runs
 * nothing and tables the reports there (a configuration without one shows as not run).
 *
 *   node dist/bench/large-batch.js [--batches 1024,4096,16384,65536] [--samples 16777216] [--rows 2000000] [--data v1|quick]
 *     [--rules none,sqrt,linear,cowclip] [--forms off,paper,auto] [--nprocs 1] [--mlp 400,400,400]
 *     [--timeout-per-run 3600] [--out DIR] [--resume | --table-only] [--json FILE] [-- extra training flags]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo, markdownTable, positiveInt, runMain, splitList } from './common.js';
import { readReport, startLauncher, stopAllLaunchers } from './launch.js';
import { parseTrainConfig } from '../src/config/train-config.js';

const RULES = ['none', 'sqrt', 'linear', 'cowclip'];
const FORMS = ['off', 'paper', 'auto'];

interface Row {
  batch: number;
  rule: string;
  form: string;
  steps: number;
  /** Null where the run was skipped (timed out or failed: `skipped` says why). */
  auc: number | null;
  oracleAuc: number | null;
  /** AUC here minus AUC at the smallest batch with the same rule and form. */
  gapToSmallest: number | null;
  /** The best of the once-a-pass evaluations, and the pass (1-based, fractional for the last) it came at. */
  best: { auc: number; pass: number } | null;
  /** Best AUC here minus best AUC at the smallest batch with the same rule and form. */
  bestGapToSmallest: number | null;
  clip: { all: number; tail: number; torso: number; head: number } | null;
  trainSeconds: number | null;
  skipped?: string;
  /** At the base batch every scale rule keeps the values as given: the rows of the later rules are this rule's job. */
  sameJobAs?: string;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      batches: { type: 'string', default: '1024,4096,16384,65536' },
      samples: { type: 'string', default: String(16_384 * 1024) },
      rows: { type: 'string', default: '2000000' },
      data: { type: 'string', default: 'v1' },
      rules: { type: 'string', default: RULES.join(',') },
      forms: { type: 'string', default: FORMS.join(',') },
      nprocs: { type: 'string', default: '1' },
      mlp: { type: 'string', default: '400,400,400' },
      'timeout-per-run': { type: 'string', default: '3600' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'table-only': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const batches = splitList(values.batches).map((s) => positiveInt('batches', s)).sort((a, b) => a - b);
  const samples = positiveInt('samples', values.samples);
  const rules = checked('rules', splitList(values.rules), RULES);
  const forms = checked('forms', splitList(values.forms), FORMS);
  const timeoutS = positiveInt('timeout-per-run', values['timeout-per-run']);
  const out = values.out ?? `large-batch-${Date.now()}`;
  // One data set for every run: the same rows, the same oracle; epochs = samples / rows.
  if (values.data !== 'v1' && values.data !== 'quick') throw new Error(`--data ${values.data}: expected v1 (Criteo-shaped vocabularies) or quick (small ones)`);
  const trainRows = positiveInt('rows', values.rows);
  const data = `synthetic:${values.data},rows=${trainRows},eval-rows=${values.data === 'v1' ? 50_000 : 2_000}`;
  const study = { data, samples, nprocs: Number(values.nprocs), mlp: values.mlp, extra: positionals };
  const studyFile = join(out, 'study.json');
  // Never overwrite, nor later reuse, the reports of a different study.
  if (existsSync(studyFile)) sameStudy(studyFile, study);
  else if (values['table-only']) throw new Error(`--table-only: no study in ${out} (${studyFile} is missing)`);
  mkdirSync(out, { recursive: true });
  writeFileSync(studyFile, JSON.stringify(study) + '\n');
  process.on('SIGINT', () => {
    stopAllLaunchers();
    process.exit(130);
  });

  // The batch the scale rules count from, as the jobs will read it (this also checks the extra flags up front).
  const baseBatch = parseTrainConfig(positionals).baseBatch;
  const rows: Row[] = [];
  for (const batch of batches) {
    for (const rule of rules) {
      for (const form of forms) {
        if (batch === baseBatch && rule !== rules[0]) {
          const first = rows.find((r) => r.batch === batch && r.rule === rules[0] && r.form === form)!;
          rows.push({ ...first, rule, sameJobAs: rules[0] });
          continue;
        }
        const steps = Math.max(1, Math.round(samples / batch));
        const stepsPerPass = Math.max(1, Math.round(trainRows / batch));
        const name = `b${batch}-${rule}-${form}`;
        const report = join(out, `${name}.json`);
        const clipFlags = form === 'off' ? ['--no-cowclip'] : ['--cowclip-form', form];
        const args = ['-n', values.nprocs, '--data', data, '--mlp', values.mlp, '--global-batch', String(batch), '--steps', String(steps), '--scale-rule', rule, ...clipFlags, '--eval-every', String(stepsPerPass), '--log-every', '0', '--report', report, ...positionals];
        const row: Row = { batch, rule, form, steps, auc: null, oracleAuc: null, gapToSmallest: null, best: null, bestGapToSmallest: null, clip: null, trainSeconds: null };
        const reuse = (values.resume || values['table-only']) && existsSync(report);
        if (values['table-only'] && !reuse) {
          rows.push({ ...row, skipped: 'not run' });
          continue;
        }
        console.error(`large-batch: ${name}: ${steps} steps${reuse ? ' (report reused)' : ''}`);
        try {
          if (!reuse) await startLauncher(args, { timeoutS, what: name }).done;
          const r = readReport(report);
          const b = r.clipFraction.byBucket;
          Object.assign(row, {
            auc: r.eval.auc,
            oracleAuc: r.oracle?.auc ?? null,
            best: r.best ? { auc: r.best.auc, pass: (r.best.step * batch) / trainRows } : null,
            clip: { all: r.clipFraction.mean, tail: b.tail.fraction, torso: b.torso.fraction, head: b.head.fraction },
            trainSeconds: r.trainSeconds,
          });
        } catch (err) {
          row.skipped = String((err as Error).message).split('\n')[0];
          console.error(`large-batch: ${name} skipped: ${row.skipped}`);
        }
        rows.push(row);
      }
    }
  }
  for (const row of rows) {
    const base = rows.find((r) => r.batch === batches[0] && r.rule === row.rule && r.form === row.form);
    if (row.auc !== null && base?.auc != null) row.gapToSmallest = row.auc - base.auc;
    if (row.best && base?.best) row.bestGapToSmallest = row.best.auc - base.best.auc;
  }

  const result = { bench: 'large-batch', machine: machineInfo(), ...study, rows };
  const line = JSON.stringify(result);
  if (values.json) writeFileSync(values.json, line + '\n');
  console.log(line);
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const f4 = (x: number | null) => (x === null ? '-' : x.toFixed(4));
  const signed = (x: number | null) => (x === null ? '-' : (x >= 0 ? '+' : '') + x.toFixed(4));
  console.log(
    '\n' +
      markdownTable(
        ['batch', 'scale rule', 'clip form', 'steps', 'AUC at the end', `end - end at ${batches[0]}`, 'best AUC (pass)', 'oracle - best', `best - best at ${batches[0]}`, 'rows clipped: all / tail / torso / head', 'train min'],
        rows.map((r) => [
          r.batch,
          r.sameJobAs ? `${r.rule} (= ${r.sameJobAs}: k = 1)` : r.rule,
          r.form,
          r.steps,
          r.skipped ? `skipped (${r.skipped.slice(0, 60)})` : f4(r.auc),
          signed(r.gapToSmallest),
          r.best ? `${f4(r.best.auc)} (${r.best.pass.toFixed(1)})` : '-',
          r.best && r.oracleAuc !== null ? f4(r.oracleAuc - r.best.auc) : '-',
          signed(r.bestGapToSmallest),
          r.clip ? [r.clip.all, r.clip.tail, r.clip.torso, r.clip.head].map(pct).join(' / ') : '-',
          r.trainSeconds === null ? '-' : (r.trainSeconds / 60).toFixed(1),
        ]),
        [1, 2],
      ),
  );
  console.log(`Reports: ${out}`);
}

/** An --out directory holds the reports of one study: --resume reads them only when they answer the same question. */
function sameStudy(file: string, now: Record<string, unknown>): void {
  const was = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(now)) {
    if (JSON.stringify(was[key]) !== JSON.stringify(now[key])) {
      throw new Error(`--out: ${file} records a study with ${key} ${JSON.stringify(was[key])}, this one has ${JSON.stringify(now[key])}; use another --out or the same parameters`);
    }
  }
}

function checked(flag: string, given: string[], allowed: string[]): string[] {
  for (const g of given) if (!allowed.includes(g)) throw new Error(`--${flag} ${g}: expected some of ${allowed.join(', ')}`);
  return given;
}

runMain(main);
