import * as tf from '@tensorflow/tfjs';
import t from 'tap';
import type { EncodedData } from '../../src/data/types.js';
import { allocBatch, fillBatch } from '../../src/model/batch.js';
import { EmbeddingTable } from '../../src/model/embedding.js';
import { mergeRows } from '../../src/sparse/merge.js';
import { splitPacked } from '../../src/sparse/packed.js';
import { MODEL_NAMES, createModel, initDense } from '../../src/model/registry.js';
import { GradientComputer } from '../../src/model/step.js';
import type { ModelConfig } from '../../src/model/types.js';
import { Adam } from '../../src/optim/adam.js';
import { EmbeddingUpdater } from '../../src/optim/embed-update.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

await tf.setBackend('cpu');

const CONFIG: ModelConfig = { numFields: 3, numNumeric: 2, embedDim: 4, mlp: [8, 8], crossLayers: 2, lowRank: 3, experts: 2 };

const randn = (rng: Rng, n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => std * rng.normal());

t.test('registry', (t) => {
  t.same([...MODEL_NAMES], ['deepfm', 'wd', 'dcn', 'dcnv2']);
  t.throws(() => createModel('fm', CONFIG), new UserError('unknown model "fm"; valid models: deepfm, wd, dcn, dcnv2'));
  t.throws(() => createModel('dcn', { ...CONFIG, mlp: [8, 0] }), UserError, 'zero-width layer');
  t.throws(() => createModel('dcn', { ...CONFIG, numNumeric: -1 }), UserError);
  t.end();
});

t.test('flat layout and init', (t) => {
  for (const name of MODEL_NAMES) {
    const model = createModel(name, CONFIG);
    let offset = 0;
    for (const s of model.params) {
      t.equal(s.offset, offset, `${name} ${s.name} is contiguous`);
      t.equal(s.size, s.shape.reduce((a, b) => a * b, 1));
      offset += s.size;
    }
    t.equal(model.numDense, offset, `${name}: numDense`);
    const a = initDense(model, new Rng(5));
    t.same(Array.from(a), Array.from(initDense(model, new Rng(5))), `${name}: seeded init`);
    for (const s of model.params) {
      const v = a.subarray(s.offset, s.offset + s.size);
      if (s.init === 'zeros') t.ok(v.every((x) => x === 0), `${s.name} zero`);
      if (s.init === 'glorot') {
        const [fanIn, fanOut] = s.shape.length === 2 ? s.shape : [s.shape[0], 1];
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        t.ok(v.every((x) => Math.abs(x) <= limit) && v.some((x) => x !== 0), `${name} ${s.name} within +-${limit.toFixed(3)}`);
      }
    }
  }
  t.end();
});

/**
 * Central differences of the float32 forward pass, loss summed in float64 on the host. Coordinates
 * whose estimates at h and h/4 disagree sit on a ReLU kink (tiny batches have some) and are skipped;
 * all others must match the analytic gradient.
 */
t.test('gradients match finite differences (dense params and embedding inputs)', async (t) => {
  for (const name of MODEL_NAMES) {
    const model = createModel(name, CONFIG);
    const rng = new Rng(11);
    const dense = initDense(model, rng);
    for (let i = 0; i < dense.length; i++) dense[i] += 0.05 * rng.normal(); // non-zero biases too
    const B = 6;
    const F = CONFIG.numFields;
    const batch = {
      size: B,
      emb: randn(rng, B * F * CONFIG.embedDim, 0.5),
      linear: randn(rng, B * F, 0.3),
      numeric: randn(rng, B * CONFIG.numNumeric, 1),
      labels: Float32Array.from({ length: B }, (_, i) => i % 2),
    };
    const gc = new GradientComputer(model, B);
    const out = await gc.compute(dense, batch, 1);
    const logits = new Float32Array(B);
    const loss = async (): Promise<number> => {
      await gc.predict(dense, batch, logits, false);
      let s = 0;
      for (let i = 0; i < B; i++) {
        const z = logits[i];
        s += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - batch.labels[i] * z;
      }
      return s;
    };
    t.ok(Math.abs((await loss()) - out.lossSum) < 1e-5 * out.lossSum, `${name}: lossSum ${out.lossSum} is the BCE sum`);
    const fd = async (x: Float32Array, i: number, h: number): Promise<number> => {
      const keep = x[i];
      x[i] = keep + h;
      const up = await loss();
      x[i] = keep - h;
      const down = await loss();
      x[i] = keep;
      return (up - down) / (2 * h);
    };
    // The packed rows [emb (d) | linear (1)] per (sample, field), read back as the inputs' layouts.
    const w = CONFIG.embedDim + 1;
    const rows = out.gradRows.slice();
    const gEmb = Float32Array.from({ length: (rows.length / w) * (w - 1) }, (_, j) => rows[Math.floor(j / (w - 1)) * w + (j % (w - 1))]);
    const gLinear = Float32Array.from({ length: rows.length / w }, (_, i) => rows[i * w + w - 1]);
    const groups: [string, Float32Array, Float32Array][] = [
      ['dense', dense, out.gradDense.slice()],
      ['emb', batch.emb, gEmb],
      ['linear', batch.linear, gLinear],
    ];
    let checked = 0;
    let total = 0;
    const bad: string[] = [];
    for (const [group, x, g] of groups) {
      for (let i = 0; i < x.length; i++) {
        total++;
        const a = await fd(x, i, 1e-3);
        const b = await fd(x, i, 2.5e-4);
        if (Math.abs(a - b) > 2e-3 * (1 + Math.abs(a))) continue; // kink
        checked++;
        if (Math.abs(a - g[i]) > 1e-3 + 1e-2 * Math.abs(g[i])) bad.push(`${group}[${i}] fd ${a} vs ${g[i]}`);
      }
    }
    t.same(bad, [], `${name}: ${checked}/${total} coordinates agree`);
    t.ok(checked >= 0.9 * total, `${name}: few kinks (${total - checked})`);
  }
  t.end();
});

/** Tiny synthetic CTR data: the label is planted on the ids of fields 0 and 1 and on numeric 0. */
function syntheticData(rows: number, rng: Rng): { data: EncodedData; vocab: number } {
  const F = CONFIG.numFields;
  const size = 5;
  const ids = new Int32Array(rows * F);
  const numeric = randn(rng, rows * CONFIG.numNumeric, 1);
  const labels = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < F; f++) ids[r * F + f] = f * size + rng.int(size);
    const score = (ids[r * F] % 2 === 0 ? 1.5 : -1.5) + (ids[r * F + 1] === size ? 1 : 0) + numeric[r * CONFIG.numNumeric];
    labels[r] = rng.next() < 1 / (1 + Math.exp(-score)) ? 1 : 0;
  }
  return { data: { rows, numNumeric: CONFIG.numNumeric, numCategorical: F, labels, numeric, ids }, vocab: F * size };
}

t.test('Adam steps through the whole pipeline lower the loss', async (t) => {
  for (const name of MODEL_NAMES) {
    const rng = new Rng(21);
    const model = createModel(name, CONFIG);
    const { data, vocab } = syntheticData(64, rng);
    const field = EmbeddingTable.normal(vocab, CONFIG.embedDim, 1e-2, rng);
    const first = new EmbeddingTable(vocab, 1);
    const dense = initDense(model, rng);
    const denseAdam = new Adam(model.numDense);
    const updater = new EmbeddingUpdater(field, first, { mode: 'lazy', lr: 1e-2, lambda: 1e-5, clip: true, ratio: 1, zeta: 1e-5 });
    const gc = new GradientComputer(model, data.rows);
    const batch = allocBatch(data.rows, CONFIG);
    const losses: number[] = [];
    for (let step = 1; step <= 30; step++) {
      fillBatch(batch, data, 0, data.rows, field, first);
      const out = await gc.compute(dense, batch, data.rows);
      losses.push(out.lossSum / data.rows);
      const ids = batch.ids.subarray(0, data.rows * CONFIG.numFields);
      const { field: gField, linear: gLinear } = splitPacked(mergeRows(ids, null, out.gradRows, CONFIG.embedDim + 1), CONFIG.embedDim);
      updater.update(gField, gLinear, step);
      denseAdam.updateDense(dense, out.gradDense, 1e-2, step);
    }
    t.ok(losses[29] < 0.85 * losses[0], `${name}: mean loss ${losses[0].toFixed(4)} -> ${losses[29].toFixed(4)}`);
  }
  t.end();
});

t.test('models without numeric features', async (t) => {
  const config = { ...CONFIG, numNumeric: 0 };
  for (const name of MODEL_NAMES) {
    const model = createModel(name, config);
    t.notOk(model.params.some((s) => s.name.startsWith('linear.numeric')), `${name}: no numeric weights`);
    const rng = new Rng(2);
    const gc = new GradientComputer(model, 4);
    const out = await gc.compute(initDense(model, rng), { size: 4, emb: randn(rng, 48, 0.1), linear: randn(rng, 12, 0.1), numeric: new Float32Array(0), labels: Float32Array.of(0, 1, 0, 1) }, 4);
    t.ok(Number.isFinite(out.lossSum) && out.gradDense.every(Number.isFinite), `${name}: finite loss and gradients`);
  }
  t.end();
});
