// `ddp-launch --help` against the flag tables the code parses with: every accepted flag listed once, in its group,
// with its alias, choices and default; and the error paths of the flag parser name the flag and what it accepts.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAUNCH_FLAGS } from '../launcher/args.js';
import { COMPARE_FLAGS } from '../launcher/compare.js';
import { parseFlags, type FlagSpec } from '../src/config/flags.js';
import { TRAIN_FLAGS } from '../src/config/train-config.js';
import { SCORE_FLAGS } from '../src/config/score-config.js';
import { REPO, runLauncher } from './helpers/cli.js';

const ALL: readonly FlagSpec[] = [...LAUNCH_FLAGS, ...COMPARE_FLAGS, ...TRAIN_FLAGS];
const GROUPS = ['Config', 'Launcher', 'Comparison', 'Model', 'Data', 'Training', 'Optimizer', 'Sync', 'Network', 'Output'];

interface Listed {
  alias?: string;
  name: string;
  line: string;
}

/** The flags a help text lists (lines `  [-a, ]--name ...`), and its group headings in order. */
function parseHelp(text: string): { flags: Listed[]; groups: string[] } {
  const lines = text.split('\n');
  const flags = lines.flatMap((line) => {
    const m = /^ {2}(?:-(\w), )?--([a-z0-9-]+)/.exec(line);
    return m ? [{ alias: m[1], name: m[2], line }] : [];
  });
  return { flags, groups: lines.flatMap((l) => /^([A-Z][A-Za-z ]*):$/.exec(l)?.[1] ?? []) };
}

/** Checks `text` lists exactly `specs`, once each, with alias, choices and default. */
function listsExactly(t: Test, text: string, specs: readonly FlagSpec[]): void {
  const { flags } = parseHelp(text);
  t.same(flags.map((f) => f.name).sort(), specs.map((s) => s.name).sort(), 'every accepted flag is listed, and only those');
  const seen = new Set<string>();
  for (const f of flags) {
    t.notOk(seen.has(f.name), `--${f.name} is listed once`);
    seen.add(f.name);
    const spec = specs.find((s) => s.name === f.name);
    if (!spec) continue;
    t.equal(f.alias, spec.alias, `--${f.name}: alias shown`);
    if (spec.choices) t.ok(f.line.includes(`<${spec.choices.join('|')}>`), `--${f.name}: choices shown`);
    if (spec.default !== undefined && spec.default !== false) {
      t.ok(f.line.endsWith(spec.default === true ? '(default on)' : `(default ${spec.default})`), `--${f.name}: default shown`);
    }
  }
}

t.test('ddp-launch --help lists every flag the launcher accepts once, grouped in reading order', async (t) => {
  const r = await runLauncher(['--help']);
  t.equal(r.code, 0, r.stderr);
  t.equal(new Set(ALL.map((s) => s.name)).size, ALL.length, 'no flag name is in two tables');
  listsExactly(t, r.stdout, ALL);
  t.same(parseHelp(r.stdout).groups, GROUPS, 'group headings in order');
  t.same([...new Set(ALL.map((s) => s.group))], GROUPS, 'every flag has one of these groups');
});

for (const command of ['eval', 'predict']) {
  t.test(`ddp-launch ${command} --help lists its scoring flags and the launcher's (less training-only ones)`, async (t) => {
    const r = await runLauncher([command, '--help']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, `usage: ddp-launch ${command} --from DIR --data SPEC`);
    listsExactly(t, r.stdout, [...SCORE_FLAGS, ...LAUNCH_FLAGS.filter((f) => !['servers', 'max-restarts'].includes(f.name))]);
  });
}

t.test('the worker, started directly, answers --help with --config and the training flags', (t) => {
  const r = spawnSync(process.execPath, [join(REPO, 'dist/src/worker/worker.js'), '--help'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  listsExactly(t, r.stdout, [...LAUNCH_FLAGS.filter((s) => s.name === 'config'), ...TRAIN_FLAGS]);
  t.same(parseHelp(r.stdout).groups, GROUPS.filter((g) => !['Launcher', 'Comparison'].includes(g)));
  t.end();
});

t.test('flag errors name the flag and what it accepts', (t) => {
  const cases: [string[], string][] = [
    [['--model'], '--model needs a value: one of deepfm, wd, dcn, dcnv2'],
    [['-n'], '-n needs a value: an integer from 1 to 512'],
    [['--report', '--steps', '4'], '--report needs a value (write the run report JSON to FILE), not the flag --steps'],
    [['--global-batch', 'big'], '--global-batch big: expected an integer >= 1'],
    [['--no-lr'], '--no-lr: --lr is not an on/off flag; give it a number >= 0'],
    [['--no-cowclip=true'], '--no-cowclip=true: --no-cowclip takes no value; write --cowclip (on) or --no-cowclip (off)'],
    [['--cowclip', 'false'], '--cowclip false: an on/off flag takes no separate value; write --cowclip (on) or --no-cowclip (off)'],
    [['--cowclip=yes'], '--cowclip=yes: expected true or false'],
    [['--port', '70000'], '--port 70000: must be <= 65535'],
    [['--mlp', '400,,400'], '--mlp 400,,400: expected a comma-separated list without empty items'],
    [['--mlp', '400,400,'], '--mlp 400,400,: expected a comma-separated list without empty items'],
    [['-nx'], '--nproc-per-node x: expected an integer from 1 to 512'],
  ];
  for (const [argv, message] of cases) t.throws(() => parseFlags(ALL, argv), { name: 'UserError', message }, argv.join(' '));
  t.match(parseFlags(ALL, ['--steps', '2', '--steps', '4', '--seed', '-1']).flags, { steps: 4, seed: -1 }, 'the last of a repeated flag wins; a negative number is a value');
  t.match(parseFlags(ALL, ['-n2', '--mlp', '64,32']).flags, { nprocPerNode: 2, mlp: ['64', '32'] }, '-n2 is -n 2');
  t.same(parseFlags(ALL, ['--mlp', '']).flags.mlp, [], 'an empty --mlp is the empty list');
  t.end();
});

t.test('ddp-launch matches a misspelt flag against all flags, and rejects comparison flags without --compare', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--nproc-per-nod', '2'], /unknown flag --nproc-per-nod \(did you mean --nproc-per-node\?\)/],
    [['--compare-rpeats', '2'], /did you mean --compare-repeats\?/],
    [['--compare-out', 'x', '--steps', '1'], /--compare-out is for --compare LIST/],
  ];
  for (const [args, re] of cases) {
    const r = await runLauncher(args, { timeoutMs: 20_000 });
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, re);
  }
});

t.test('the README names every flag the code accepts', (t) => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const missing = [...ALL, ...SCORE_FLAGS].filter((s) => !new RegExp(`--${s.name}(?![a-z-])`).test(readme)).map((s) => `--${s.name}`);
  t.same(missing, [], 'flags the README does not mention');
  t.end();
});
