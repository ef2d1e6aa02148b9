import { UserError } from '../util/errors.js';

/**
 * A small declarative flag parser: one table drives parsing, validation, defaults and `--help`,
 * so the documented flags and the accepted flags cannot drift apart.
 */
export type FlagType = 'int' | 'float' | 'string' | 'bool' | 'list';

export interface FlagSpec {
  name: string; // without leading dashes
  type: FlagType;
  help: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
  alias?: string; // single letter, e.g. 'n'
  /** Help section header (flags are grouped in --help). */
  group?: string;
  /** What the value is, in --help (e.g. FILE, DIR); default: the choices, else the type. */
  placeholder?: string;
}

export type FlagValue = string | number | boolean | string[] | undefined;
export type ParsedFlags = Record<string, FlagValue>;

/** `embed-dim` -> `embedDim`, as parseFlags keys values. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

/** The value a flag parses to: numbers, on/off, lists of strings, one of its choices, or a string. */
type ValueOf<F extends FlagSpec> = F['type'] extends 'int' | 'float' ? number : F['type'] extends 'bool' ? boolean : F['type'] extends 'list' ? string[] : F extends { choices: readonly (infer C)[] } ? C : string;

/**
 * The parsed values of a flag table declared `as const`, typed from the table itself: a flag with a default is
 * always present, one without may be undefined. So config types follow the table instead of casts.
 */
export type FlagValues<T extends readonly FlagSpec[]> = {
  [F in T[number] as F extends { default: string | number | boolean } ? Camel<F['name']> : never]: ValueOf<F>;
} & {
  [F in T[number] as F extends { default: string | number | boolean } ? never : Camel<F['name']>]?: ValueOf<F>;
};

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** What a value of `spec` must be, for messages: "an integer >= 1", "one of deepfm, wd, dcn, dcnv2". */
export function expectedValue(spec: FlagSpec): string {
  const range =
    spec.min !== undefined && spec.max !== undefined ? ` from ${spec.min} to ${spec.max}` : spec.min !== undefined ? ` >= ${spec.min}` : spec.max !== undefined ? ` <= ${spec.max}` : '';
  switch (spec.type) {
    case 'int':
      return `an integer${range}`;
    case 'float':
      return `a number${range}`;
    case 'bool':
      return 'true or false';
    case 'list':
      return 'a comma-separated list';
    case 'string':
      return spec.choices ? `one of ${spec.choices.join(', ')}` : 'a string';
  }
}

/**
 * What is wrong with `raw` as a value of `spec` (type, range, choices), or undefined. Shared by the command
 * line and --config files, which frame it differently but say the same thing.
 */
export function valueProblem(spec: FlagSpec, raw: string): string | undefined {
  switch (spec.type) {
    case 'int':
    case 'float': {
      const ok = spec.type === 'int' ? /^-?\d+$/.test(raw) : raw.trim() !== '' && Number.isFinite(Number(raw));
      if (!ok) return `expected ${expectedValue(spec)}`;
      const v = Number(raw);
      if (spec.min !== undefined && v < spec.min) return `must be >= ${spec.min}`;
      if (spec.max !== undefined && v > spec.max) return `must be <= ${spec.max}`;
      return undefined;
    }
    case 'bool':
      return ['true', '1', 'false', '0'].includes(raw) ? undefined : `expected ${expectedValue(spec)}`;
    case 'list':
      // `400,,400` is a typo, not the list 400,400 (an empty value is the empty list).
      return raw.trim() !== '' && raw.split(',').some((x) => x.trim() === '') ? 'expected a comma-separated list without empty items' : undefined;
    case 'string':
      return spec.choices && !spec.choices.includes(raw) ? `expected ${expectedValue(spec)}` : undefined;
  }
}

function convert(spec: FlagSpec, raw: string): string | number | boolean | string[] {
  const problem = valueProblem(spec, raw);
  // Bool values only arrive as --flag=V, so the message shows it that way.
  if (problem) throw new UserError(`--${spec.name}${spec.type === 'bool' ? '=' : ' '}${raw}: ${problem}`);
  switch (spec.type) {
    case 'int':
    case 'float':
      return Number(raw);
    case 'bool':
      return raw === 'true' || raw === '1';
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'string':
      return raw;
  }
}

/** One piece of a command line, as tokenize() reads it. */
export type ArgToken =
  /** A flag of the specs, with its value ('true' / 'false' for on/off flags); `args` are the argv entries it took. */
  | { kind: 'flag'; spec: FlagSpec; arg: string; value: string; args: string[] }
  /** Something flag-like the specs do not name (an error for parseFlags; another table's flag for a split). */
  | { kind: 'unknown'; arg: string }
  | { kind: 'positional'; arg: string }
  /** `--` and everything after it. */
  | { kind: 'rest'; args: string[] };

/**
 * The one reader of command lines: `--name value`, `--name=value`, `-n 2` and `-n2` (a one-letter alias with
 * its value attached, as getopt reads it), `--flag` and `--no-flag` for on/off flags, `--` ending the flags.
 * parseFlags, the launcher's split of its own flags from the workers' (partitionArgs) and the --config
 * expansion all read through it, so they cannot disagree on where a flag's value is.
 */
export function tokenize(specs: readonly FlagSpec[], argv: readonly string[]): ArgToken[] {
  const byName = flagsByName(specs);
  const tokens: ArgToken[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      tokens.push({ kind: 'positional', arg });
      continue;
    }
    if (arg === '--') {
      tokens.push({ kind: 'rest', args: argv.slice(i) });
      break;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    const short = !spec && !arg.startsWith('--') && eq < 0 ? byName.get(name[0]) : undefined;
    if (short && short.alias === name[0] && short.type !== 'bool') {
      spec = short;
      value = name.slice(1);
    }
    const negated = !spec && name.startsWith('no-') ? byName.get(name.slice(3)) : undefined;
    if (negated) {
      if (negated.type !== 'bool') throw new UserError(`${arg}: --${negated.name} is not an on/off flag; give it ${expectedValue(negated)}`);
      if (value !== undefined) throw new UserError(`${arg}: --no-${negated.name} takes no value; write --${negated.name} (on) or --no-${negated.name} (off)`);
      spec = negated;
      value = 'false';
    }
    if (!spec) {
      tokens.push({ kind: 'unknown', arg });
      continue;
    }
    const args = [arg];
    if (value === undefined && spec.type === 'bool') {
      // `--cowclip false` would leave 'false' behind as a stray argument: say how to write it instead.
      if (/^(true|false)$/.test(argv[i + 1] ?? '')) {
        throw new UserError(`${arg} ${argv[i + 1]}: an on/off flag takes no separate value; write --${spec.name} (on) or --no-${spec.name} (off)`);
      }
      value = 'true';
    }
    if (value === undefined) {
      value = argv[++i];
      if (!isValue(value)) throw missingValue(arg, spec, value);
      args.push(value);
    }
    tokens.push({ kind: 'flag', spec, arg, value, args });
  }
  return tokens;
}

/** `argv` split into the entries of `specs`' flags (with their values) and everything else, each in order. */
export function partitionArgs(argv: readonly string[], specs: readonly FlagSpec[]): { mine: string[]; rest: string[] } {
  const mine: string[] = [];
  const rest: string[] = [];
  for (const tok of tokenize(specs, argv)) {
    if (tok.kind === 'flag') mine.push(...tok.args);
    else if (tok.kind === 'rest') rest.push(...tok.args);
    else rest.push(tok.arg);
  }
  return { mine, rest };
}

/**
 * Parses `argv` against `specs`. Values are keyed by camelCase name; defaults are filled in.
 * `--no-X` sets bool flag X to false. A flag given twice takes its last value (so later flags, and the command
 * line over a --config file, override). Unknown flags are an error naming the closest known one.
 */
export function parseFlags<const T extends readonly FlagSpec[]>(specs: T, argv: readonly string[]): { flags: FlagValues<T>; rest: string[] } {
  const flags: ParsedFlags = {};
  const rest: string[] = [];
  for (const tok of tokenize(specs, argv)) {
    switch (tok.kind) {
      case 'positional':
        rest.push(tok.arg);
        break;
      case 'rest':
        rest.push(...tok.args.slice(1));
        break;
      case 'unknown': {
        const name = tok.arg.replace(/^--?/, '').split('=', 1)[0];
        const near = closestFlag(name, specs);
        throw new UserError(`unknown flag ${tok.arg}${near ? ` (did you mean --${near}?)` : ''}; see --help`);
      }
      case 'flag':
        flags[camel(tok.spec.name)] = convert(tok.spec, tok.value);
    }
  }
  for (const s of specs) {
    const key = camel(s.name);
    if (flags[key] === undefined && s.default !== undefined) {
      flags[key] = s.type === 'list' ? convert(s, String(s.default)) : s.default;
    }
  }
  // The loop above gives each flag its spec's type and the defaults fill every flag that has one.
  return { flags: flags as FlagValues<T>, rest };
}

/** Specs by name and by alias. */
export function flagsByName(specs: readonly FlagSpec[]): Map<string, FlagSpec> {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.alias) byName.set(s.alias, s);
  }
  return byName;
}

/** Whether `next`, after a flag, is its value: `--report --steps 4` must not write the report to a file named --steps. */
function isValue(next: string | undefined): next is string {
  return next !== undefined && !next.startsWith('--');
}

/** The error for flag `arg` (of `spec`) followed by `next` instead of a value. */
function missingValue(arg: string, spec: FlagSpec, next: string | undefined): UserError {
  // A free-form string is best described by its help; numbers and choices by what they accept.
  const what = (spec.type === 'string' && !spec.choices) || spec.type === 'list' ? ` (${spec.help})` : `: ${expectedValue(spec)}`;
  return new UserError(`${arg} needs a value${what}${next === undefined ? '' : `, not the flag ${next}`}`);
}

/** The flag name nearest to a mistyped `name` (edit distance < 3), if any. */
export function closestFlag(name: string, specs: readonly FlagSpec[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const s of specs) {
    const d = editDistance(name, s.name);
    if (d < bestD) {
      bestD = d;
      best = s.name;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/**
 * `--help` text: flags grouped under their `group` heading, groups in order of first appearance (so a flag
 * added at the end of a table still lands in its group), with types, defaults and choices.
 */
export function formatHelp(specs: readonly FlagSpec[]): string {
  const groups = new Map<string, FlagSpec[]>();
  for (const s of specs) {
    const members = groups.get(s.group ?? '') ?? [];
    groups.set(s.group ?? '', [...members, s]);
  }
  const lines: string[] = [];
  for (const [group, members] of groups) {
    if (group) lines.push('', `${group}:`);
    for (const s of members) {
      const alias = s.alias ? `-${s.alias}, ` : '';
      const arg = s.type === 'bool' ? '' : ` <${s.placeholder ?? (s.choices ? s.choices.join('|') : s.type)}>`;
      const def = s.default === undefined || s.default === false ? '' : s.default === true ? ' (default on)' : ` (default ${s.default})`;
      lines.push(`  ${alias}--${s.name}${arg}`.padEnd(44) + ` ${s.help}${def}`);
    }
  }
  return lines.join('\n');
}
