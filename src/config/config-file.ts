import { readFileSync } from 'node:fs';
import { closestFlag, expectedValue, flagsByName, tokenize, valueProblem, type FlagSpec } from './flags.js';
import { UserError } from '../util/errors.js';

/** `--config FILE`, read by ddp-launch and by a worker started directly (mpirun/srun give every rank the same argv). */
export const CONFIG_FLAG = {
  group: 'Config',
  name: 'config', placeholder: 'FILE',
  type: 'string',
  help: 'read flags from a JSON object {"flag-name": value, ...}: numbers, strings, true/false, arrays for lists; flags on the command line override it',
} as const satisfies FlagSpec;

/**
 * `argv` with `--config FILE` replaced by the flags the file sets, placed first so that the command line
 * overrides them (parseFlags keeps a flag's last value) and the result is plain flags a worker on another host
 * can use without the file. Keys and values are checked here, where the file and key can be named, by the
 * command line's own checks (valueProblem), so both say the same. Keys may be names or aliases.
 */
export function expandConfig(argv: readonly string[], specs: readonly FlagSpec[], read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string[] {
  let file: string | undefined;
  const rest: string[] = [];
  for (const tok of tokenize([CONFIG_FLAG], argv)) {
    if (tok.kind === 'rest') rest.push(...tok.args);
    else if (tok.kind !== 'flag') rest.push(tok.arg);
    else if (file !== undefined) throw new UserError(`--config given twice (${file}, ${tok.value}): give one file`);
    else file = tok.value;
  }
  return file === undefined ? rest : [...configArgs(file, specs, read), ...rest];
}

function configArgs(file: string, specs: readonly FlagSpec[], read: (path: string) => string): string[] {
  let text: string;
  try {
    text = read(file).replace(/^\uFEFF/, ''); // some editors start UTF-8 files with a byte-order mark
  } catch (err) {
    throw new UserError(`--config ${file}: cannot read it (${(err as Error).message})`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new UserError(`${file}: not JSON: ${describeJsonError(text)}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new UserError(`${file}: expected a JSON object {"flag-name": value, ...}, got ${obj === null ? 'null' : Array.isArray(obj) ? 'an array' : `a ${typeof obj}`}`);
  }
  const byName = flagsByName(specs);
  return Object.entries(obj as Record<string, unknown>).map(([key, value]) => {
    if (key === CONFIG_FLAG.name) throw new UserError(`${file}: "config": a config file cannot name another one`);
    const spec = byName.get(key);
    if (!spec) {
      const near = closestFlag(key, specs);
      throw new UserError(`${file}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; keys are flag names without dashes, see --help`);
    }
    return configArg(spec, value, (problem) => new UserError(`${file}: "${key}": ${problem}, got ${JSON.stringify(value)}`));
  });
}

/** The command-line form of one file entry: `--name=value`, or `--name` / `--no-name` for a bool. */
function configArg(spec: FlagSpec, value: unknown, bad: (problem: string) => UserError): string {
  if (spec.type === 'bool') {
    if (typeof value !== 'boolean') throw bad(`expected ${expectedValue(spec)}`);
    return value ? `--${spec.name}` : `--no-${spec.name}`;
  }
  const scalar = typeof value === 'string' || typeof value === 'number';
  const list = spec.type === 'list' && Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number');
  if (!scalar && !list) throw bad(spec.type === 'list' ? 'expected an array of strings or numbers (or a comma-separated string)' : `expected ${expectedValue(spec)}`);
  const raw = list ? (value as unknown[]).join(',') : String(value);
  const problem = valueProblem(spec, raw);
  if (problem) throw bad(problem);
  return `--${spec.name}=${raw}`;
}

/** 'unexpected "yes" at line 3, column 8': V8's messages give a position for some syntax errors only. */
function describeJsonError(text: string): string {
  const at = jsonErrorOffset(text);
  const lines = text.slice(0, at).split('\n');
  const what = at >= text.length ? 'end of file' : JSON.stringify(/^[\w.+-]+/.exec(text.slice(at))?.[0] ?? text[at]);
  return `unexpected ${what} at line ${lines.length}, column ${lines[lines.length - 1].length + 1}`;
}

const LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** Offset of the first syntax error in `text` (which JSON.parse rejected), by a scan of the JSON grammar. */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const space = () => {
    while (/[ \t\n\r]/.test(text.charAt(i))) i++;
  };
  const string = () => {
    for (i++; text.charAt(i) !== '"'; i++) {
      if (text.charAt(i) < ' ') fail(); // also the end of the text ('')
      if (text[i] === '\\') {
        i++;
        if (!/^(["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(text.slice(i, i + 5))) fail();
        if (text[i] === 'u') i += 4;
      }
    }
    i++;
  };
  const value = (): void => {
    space();
    const open = text.charAt(i);
    if (open === '"') return string();
    if (open !== '{' && open !== '[') {
      LITERAL.lastIndex = i;
      i += LITERAL.exec(text)?.[0].length ?? fail();
      return;
    }
    const close = open === '{' ? '}' : ']';
    i++;
    space();
    if (text.charAt(i) === close) {
      i++;
      return;
    }
    for (;;) {
      if (open === '{') {
        space();
        if (text.charAt(i) !== '"') fail();
        string();
        space();
        if (text.charAt(i) !== ':') fail();
        i++;
      }
      value();
      space();
      if (text.charAt(i) === close) {
        i++;
        return;
      }
      if (text.charAt(i) !== ',') fail();
      i++;
    }
  };
  try {
    value();
    space();
  } catch (at) {
    if (typeof at !== 'number') throw at;
    return at;
  }
  return i; // text after the value
}
