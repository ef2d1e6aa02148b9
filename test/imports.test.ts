// Imports point one way: no module imports itself back through others, and the layers the README draws hold
// (models know nothing of networking, the communicator nothing of models). Read from the sources as text.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { REPO } from './helpers/cli.js';

/** Every .ts module under the code folders, with the repository-relative modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(join(REPO, path), 'utf8');
        const deps = [...text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gm)].map((m) => normalize(join(dirname(path), m[1])).replace(/\.js$/, '.ts'));
        graph.set(path, deps);
      }
    }
  };
  for (const dir of ['src', 'launcher', 'topology']) walk(dir);
  return graph;
}

/** A cycle of imports, if there is one (depth-first search). */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (v: string): string[] | null => {
    state.set(v, 'open');
    path.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (state.get(w) === 'open') return [...path.slice(path.indexOf(w)), w];
      if (!state.has(w)) {
        const found = visit(w);
        if (found) return found;
      }
    }
    path.pop();
    state.set(v, 'done');
    return null;
  };
  for (const v of graph.keys()) {
    if (state.has(v)) continue;
    const found = visit(v);
    if (found) return found;
  }
  return null;
}

const graph = importGraph();

t.test('the graph was read', (t) => {
  t.ok(graph.size > 100, `${graph.size} modules`);
  t.ok(graph.get('src/train/trainer.ts')?.includes('src/train/replica.ts'), 'relative imports resolved');
  t.end();
});

t.test('no import cycle between modules', (t) => {
  t.same(findCycle(graph), null, 'cycle');
  t.same(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), ['a', 'b', 'c', 'a'], 'a cycle is found when there is one');
  t.end();
});

t.test('layers: what each folder must not import', (t) => {
  const forbidden: [string, string[]][] = [
    ['src/model/', ['src/comm/', 'src/sync/', 'src/ps/', 'src/train/', 'topology/', 'launcher/']],
    ['src/comm/', ['src/model/', 'src/optim/', 'src/sync/', 'src/ps/', 'src/train/', 'src/data/', 'launcher/']],
    ['src/optim/', ['src/comm/', 'src/sync/', 'src/train/', 'launcher/']],
    ['src/data/', ['src/model/', 'src/comm/', 'src/sync/', 'src/train/', 'launcher/']],
    ['src/', ['launcher/']],
  ];
  for (const [from, banned] of forbidden) {
    const bad = [...graph].flatMap(([mod, deps]) => (mod.startsWith(from) ? deps.filter((d) => banned.some((b) => d.startsWith(b))).map((d) => `${mod} -> ${relative('.', d)}`) : []));
    t.same(bad, [], `${from} imports none of ${banned.join(' ')}`);
  }
  t.end();
});
