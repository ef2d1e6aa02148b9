// Imports point one way (scripts/import-graph.mjs, also run by CI through this test): no module imports itself
// back through others, every import between folders points down the layers, and what knows nothing of
// networking never imports it. The script is run on this repository and on small trees that break each rule.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO } from '../helpers/cli.js';

const SCRIPT = join(REPO, 'scripts/import-graph.mjs');
const run = (root: string) => spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });

/** A throw-away source tree of `files` (path -> the modules it imports). */
function tree(t: Test, files: Record<string, string[]>): string {
  const root = mkdtempSync(join(tmpdir(), 'ddp-imports-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const dir of ['src', 'launcher', 'topology']) mkdirSync(join(root, dir), { recursive: true });
  for (const [path, deps] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), deps.map((d, i) => `import { x${i} } from '${d}';\n`).join('') + 'export const x = 1;\n');
  }
  return root;
}

t.test('this repository: no cycle, nothing against the layers', (t) => {
  const r = run(REPO);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\d{3} modules;/, 'every module read');
  t.match(r.stdout, /src\/model +-> [^\n]*src\/data/, 'relative imports resolved');
  t.notMatch(r.stdout, /src\/model +-> [^\n]*src\/comm/, 'models know nothing of networking');
  t.match(r.stdout, /no import cycle, no import against the layers/);
  t.end();
});

t.test('a cycle is named', (t) => {
  const r = run(tree(t, { 'src/sync/a.ts': ['./b.js'], 'src/sync/b.ts': ['./c.js'], 'src/sync/c.ts': ['./a.js'] }));
  t.equal(r.status, 1);
  t.match(r.stderr, 'import cycle: src/sync/a.ts -> src/sync/b.ts -> src/sync/c.ts -> src/sync/a.ts');
  t.end();
});

t.test('an import up the layers is named', (t) => {
  const r = run(tree(t, { 'src/sync/s.ts': ['../train/t.js'], 'src/train/t.ts': [] }));
  t.equal(r.status, 1);
  t.match(r.stderr, 'import against the layers: src/sync/s.ts -> src/train/t.ts');
  t.end();
});

t.test('networking in a model is named, though comm sits below model', (t) => {
  const r = run(tree(t, { 'src/model/m.ts': ['../comm/c.js'], 'src/comm/c.ts': [] }));
  t.equal(r.status, 1);
  t.match(r.stderr, 'import of networking where none belongs: src/model/m.ts -> src/comm/c.ts');
  t.end();
});

t.test('a folder outside the layers is named', (t) => {
  const r = run(tree(t, { 'src/extra/e.ts': ['../util/u.js'], 'src/util/u.ts': [] }));
  t.equal(r.status, 1);
  t.match(r.stderr, 'folder src/extra is in no layer');
  t.end();
});
