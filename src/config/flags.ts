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
}

export type FlagValue = string | number | boolean | string[] | undefined;
export type ParsedFlags = Record<string, FlagValue>;

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function convert(spec: FlagSpec, raw: string): string | number | boolean | string[] {
  const flag = `--${spec.name}`;
  switch (spec.type) {
    case 'int':
    case 'float': {
      const ok = spec.type === 'int' ? /^-?\d+$/.test(raw) : raw.trim() !== '' && Number.isFinite(Number(raw));
      if (!ok) throw new UserError(`${flag} ${raw}: expected ${spec.type === 'int' ? 'an integer' : 'a number'}`);
      const v = Number(raw);
      if (spec.min !== undefined && v < spec.min) throw new UserError(`${flag} ${raw}: must be >= ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) throw new UserError(`${flag} ${raw}: must be <= ${spec.max}`);
      return v;
    }
    case 'bool':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UserError(`${flag}=${raw}: expected true or false`);
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UserError(`${flag} ${raw}: expected one of ${spec.choices.join(', ')}`);
      }
      return raw;
  }
}

/**
 * Parses `argv` against `specs`. Values are keyed by camelCase name; defaults are filled in.
 * `--no-X` sets bool flag X to false. Unknown flags are an error naming the closest known one.
 */
export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[]): { flags: ParsedFlags; rest: string[] } {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.alias) byName.set(s.alias, s);
  }
  const flags: ParsedFlags = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      rest.push(arg);
      continue;
    }
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool' && value === undefined) {
      spec = byName.get(name.slice(3));
      name = spec!.name;
      value = 'false';
    }
    if (!spec) throw new UserError(`unknown flag ${arg}${suggest(name, specs)}; see --help`);
    if (value === undefined) {
      if (spec.type === 'bool') value = 'true';
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UserError(`--${spec.name} needs a value (${spec.help})`);
    }
    flags[camel(spec.name)] = convert(spec, value);
  }
  for (const s of specs) {
    const key = camel(s.name);
    if (flags[key] === undefined && s.default !== undefined) {
      flags[key] = s.type === 'list' ? convert(s, String(s.default)) : s.default;
    }
  }
  return { flags, rest };
}

function suggest(name: string, specs: readonly FlagSpec[]): string {
  let best = '';
  let bestD = 3;
  for (const s of specs) {
    const d = editDistance(name, s.name);
    if (d < bestD) {
      bestD = d;
      best = s.name;
    }
  }
  return best ? ` (did you mean --${best}?)` : '';
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

/** `--help` text: flags grouped, with types, defaults and choices. */
export function formatHelp(specs: readonly FlagSpec[]): string {
  const lines: string[] = [];
  let group = '';
  for (const s of specs) {
    if (s.group && s.group !== group) {
      group = s.group;
      lines.push('', `${group}:`);
    }
    const alias = s.alias ? `-${s.alias}, ` : '';
    const arg = s.type === 'bool' ? '' : ` <${s.choices ? s.choices.join('|') : s.type}>`;
    const def = s.default !== undefined && s.type !== 'bool' ? ` (default ${s.default})` : '';
    lines.push(`  ${alias}--${s.name}${arg}`.padEnd(44) + ` ${s.help}${def}`);
  }
  return lines.join('\n');
}
