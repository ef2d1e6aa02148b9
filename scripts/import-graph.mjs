// The import graph of the code folders, checked: no module imports itself back through others, and every import
// from one folder into another points down the layers below. Prints who imports whom (`--markdown`: the README's
// table); exits 1 naming each cycle or upward arrow. Read from the sources as text (relative imports only), so it
// needs no build.   node scripts/import-graph.mjs [--markdown] [ROOT]
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bottom to top: a folder may import only folders of lower layers. Folders sharing a layer know nothing of
 * each other. `src/worker` is a rank's process entry; `launcher` and `src/index.ts` (the library's API) are the top.
 */
export const LAYERS = [
  ['src/util', 'src/metrics'],
  ['src/wire', 'src/kernels'],
  ['topology'],
  ['src/comm'],
  ['src/data'],
  ['src/sparse'],
  ['src/model'],
  ['src/optim'],
  ['src/gpu'],
  ['src/backend'],
  ['src/config'],
  ['src/replica'],
  ['src/ps'],
  ['src/sync'],
  ['src/train'],
  ['src/report'],
  ['src/worker'],
  ['launcher', 'src/index.ts'],
];

/** Besides the layers: what knows nothing of networking (models, optimizers, data, rows, kernels, GPU programs) never imports it. */
export const NEVER = [[['src/model', 'src/optim', 'src/data', 'src/sparse', 'src/kernels', 'src/gpu'], ['src/comm', 'src/wire', 'topology']]];

const CODE = ['src', 'launcher', 'topology'];

/** Every .ts module under the code folders of `root`, with the repository-relative modules it imports. */
export function importGraph(root) {
  const graph = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(join(root, path), 'utf8');
        const deps = [...text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gm)].map((m) => normalize(join(dirname(path), m[1])).replace(/\.js$/, '.ts'));
        graph.set(path, deps);
      }
    }
  };
  for (const dir of CODE) walk(dir);
  return graph;
}

/** A cycle of imports, as the modules along it (first = last), or null (depth-first search). */
export function findCycle(graph) {
  const state = new Map();
  const path = [];
  const visit = (v) => {
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

/** The folder a module belongs to: `src/<dir>`, `src/index.ts`, or its top-level folder. */
export function folderOf(mod) {
  const parts = mod.split('/');
  return parts[0] === 'src' ? parts.slice(0, 2).join('/') : parts[0];
}

/** Folder -> the folders it imports (sorted), and every import that does not point down the layers. */
export function checkLayers(graph, layers = LAYERS, never = NEVER) {
  const layerOf = new Map(layers.flatMap((group, i) => group.map((f) => [f, i])));
  const imports = new Map();
  const upward = [];
  const forbidden = [];
  const unplaced = new Set();
  for (const [mod, deps] of graph) {
    const from = folderOf(mod);
    if (!layerOf.has(from)) unplaced.add(from);
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to === from) continue;
      if (!imports.has(from)) imports.set(from, new Set());
      imports.get(from).add(to);
      if (!(layerOf.get(to) < layerOf.get(from))) upward.push(`${mod} -> ${dep}`);
      if (never.some(([a, b]) => a.includes(from) && b.includes(to))) forbidden.push(`${mod} -> ${dep}`);
    }
  }
  const sorted = new Map([...imports].map(([f, s]) => [f, [...s].sort((a, b) => layerOf.get(b) - layerOf.get(a) || a.localeCompare(b))]));
  return { imports: sorted, upward, forbidden, unplaced: [...unplaced] };
}

function main() {
  const args = process.argv.slice(2);
  const markdown = args.includes('--markdown');
  const root = args.find((a) => !a.startsWith('--')) ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  const graph = importGraph(root);
  const cycle = findCycle(graph);
  const { imports, upward, forbidden, unplaced } = checkLayers(graph);
  const rows = [...LAYERS].reverse().flat().map((f) => [f, (imports.get(f) ?? []).join(', ') || 'nothing of ours']);
  if (markdown) {
    console.log('| folder (top to bottom) | imports |\n| --- | --- |');
    for (const [f, deps] of rows) console.log(`| \`${f}\` | ${deps === 'nothing of ours' ? deps : deps.split(', ').map((d) => `\`${d}\``).join(', ')} |`);
  } else {
    console.log(`${graph.size} modules; folders top to bottom, each importing only folders below it:`);
    for (const [f, deps] of rows) console.log(`  ${f.padEnd(14)} -> ${deps}`);
  }
  const problems = [
    ...(cycle ? [`import cycle: ${cycle.join(' -> ')}`] : []),
    ...upward.map((e) => `import against the layers: ${e}`),
    ...forbidden.map((e) => `import of networking where none belongs: ${e}`),
    ...unplaced.map((f) => `folder ${f} is in no layer (scripts/import-graph.mjs LAYERS)`),
  ];
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  if (!markdown) console.log('no import cycle, no import against the layers');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) main();
