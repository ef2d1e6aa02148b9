import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import t from 'tap';
import type { EncodedData } from '../../src/data/types.js';
import { allocBatch, fillBatch } from '../../src/model/batch.js';
import { EmbeddingTable } from '../../src/model/embedding.js';
import { MODEL_NAMES, createModel, initDense } from '../../src/model/registry.js';
import { GradientComputer, type StepOutput, type TransferMode } from '../../src/model/step.js';
import type { ModelConfig } from '../../src/model/types.js';
import { Rng } from '../../src/util/rng.js';

const CONFIG: ModelConfig = { numFields: 4, numNumeric: 3, embedDim: 4, mlp: [8, 8], crossLayers: 3, lowRank: 4, experts: 3 };
const B = 16;

const rng = new Rng(99);
const randn = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => std * rng.normal());
const batch = {
  size: B,
  emb: randn(B * CONFIG.numFields * CONFIG.embedDim, 0.3),
  linear: randn(B * CONFIG.numFields, 0.1),
  numeric: randn(B * CONFIG.numNumeric, 1),
  labels: Float32Array.from({ length: B }, (_, i) => (i % 3 === 0 ? 1 : 0)),
};
const models = MODEL_NAMES.map((name) => createModel(name, CONFIG));
const denses = models.map((m) => initDense(m, new Rng(4)));

type Copy = { lossSum: number; gradDense: Float32Array; gradRows: Float32Array };
const copy = (o: StepOutput): Copy => ({ lossSum: o.lossSum, gradDense: o.gradDense.slice(), gradRows: o.gradRows.slice() });

/** Per-model outputs on the current backend, and tensor counts across 20 compute + predict rounds. */
async function runAll(t: { equal(a: unknown, b: unknown, msg: string): unknown }, transfer: TransferMode = 'direct'): Promise<Copy[]> {
  const outs: Copy[] = [];
  for (const [k, model] of models.entries()) {
    const gc = new GradientComputer(model, B, { transfer });
    const first = copy(await gc.compute(denses[k], batch, 64));
    const out = new Float32Array(B);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      await gc.compute(denses[k], batch, 64);
      await gc.predict(denses[k], batch, out);
    }
    t.equal(tf.memory().numTensors, before, `${tf.getBackend()} ${transfer} ${model.name}: no tensor leaks over 20 steps`);
    outs.push(first);
  }
  return outs;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

t.test('cpu and wasm: no leaks, same loss and gradients', async (t) => {
  await tf.setBackend('cpu');
  const cpu = await runAll(t);
  t.ok(await tf.setBackend('wasm'), 'wasm backend available');
  const wasm = await runAll(t);
  models.forEach((m, k) => {
    t.ok(Math.abs(cpu[k].lossSum - wasm[k].lossSum) <= 1e-5 * cpu[k].lossSum, `${m.name}: loss ${cpu[k].lossSum} vs ${wasm[k].lossSum}`);
    for (const key of ['gradDense', 'gradRows'] as const) {
      const d = maxRelDiff(cpu[k][key], wasm[k][key]);
      t.ok(d < 1e-4, `${m.name} ${key}: max diff ${d.toExponential(2)} of max |g|`);
    }
  });
  await tf.setBackend('cpu');
});

t.test('packed transfers: the same bits as direct, one upload and one readback per call, batches filled in place', async (t) => {
  await tf.setBackend('cpu');
  const direct = await runAll(t, 'direct');
  const packed = await runAll(t, 'packed');
  t.same(packed, direct, 'every model: loss and gradients bit-identical');
  const gc = new GradientComputer(models[1], B, { transfer: 'packed' });
  const inPlace = gc.allocBatch();
  for (const key of ['emb', 'linear', 'numeric', 'labels'] as const) inPlace[key].set(batch[key]);
  inPlace.size = B - 3; // a short batch: only its rows count
  const short = { ...batch, size: B - 3 };
  const a = copy(await gc.compute(denses[1], inPlace, 64));
  const b = copy(await new GradientComputer(models[1], B, { transfer: 'direct' }).compute(denses[1], short, 64));
  t.same(a, b, 'a short batch filled in the staging buffer = the same batch passed directly');
  const s = gc.stats;
  t.equal(s.calls, 1);
  t.equal(s.uploads, 1, 'one upload');
  t.equal(s.readbacks, 1, 'one readback');
  const F = CONFIG.numFields;
  const d = CONFIG.embedDim;
  t.equal(s.readbackBytes, 4 * (1 + models[1].numDense + (B - 3) * F * (d + 1)), 'readback: loss, dense gradient, embedding and first-order gradients');
  t.equal(s.uploadBytes, 4 * (models[1].numDense + B * (F * d + F + CONFIG.numNumeric + 1)), 'upload: weights and the staged batch');
  const probs = new Float32Array(B);
  const ref = new Float32Array(B);
  await gc.predict(denses[1], batch, probs);
  await new GradientComputer(models[1], B, { transfer: 'direct' }).predict(denses[1], batch, ref);
  t.same(probs, ref, 'predictions bit-identical');
});

t.test('denominator scales gradients only; predict gives sigmoid(logits)', async (t) => {
  const gc = new GradientComputer(models[0], B);
  const a = copy(await gc.compute(denses[0], batch, 1));
  const b = await gc.compute(denses[0], batch, 4);
  t.equal(b.lossSum, a.lossSum, 'lossSum is not scaled');
  t.ok(maxRelDiff(a.gradDense, b.gradDense.map((x) => 4 * x)) < 1e-6, 'dense gradient / 4');
  t.ok(maxRelDiff(a.gradRows, b.gradRows.map((x) => 4 * x)) < 1e-6, 'embedding-row gradients / 4');
  const logits = new Float32Array(B);
  const probs = new Float32Array(B);
  await gc.predict(denses[0], batch, logits, false);
  await gc.predict(denses[0], batch, probs);
  t.ok(probs.every((p, i) => Math.abs(p - 1 / (1 + Math.exp(-logits[i]))) < 1e-6), 'probabilities');
  await t.rejects(gc.compute(denses[0], { ...batch, size: B + 1 }, 1), RangeError, 'batch over capacity');
  await t.rejects(gc.compute(denses[0].subarray(1), batch, 1), RangeError, 'wrong dense length');
  await t.rejects(gc.compute(denses[0], batch, 0), RangeError, 'denominator 0');
});

t.test('fillBatch and predictData', async (t) => {
  const F = CONFIG.numFields;
  const rows = 37;
  const vocab = 20;
  const data: EncodedData = {
    rows,
    numNumeric: CONFIG.numNumeric,
    numCategorical: F,
    labels: Float32Array.from({ length: rows }, (_, i) => i % 2),
    numeric: randn(rows * CONFIG.numNumeric, 1),
    ids: Int32Array.from({ length: rows * F }, () => rng.int(vocab)),
  };
  const field = EmbeddingTable.normal(vocab, CONFIG.embedDim, 0.1, rng);
  const first = EmbeddingTable.normal(vocab, 1, 0.1, rng);

  const hb = allocBatch(4, CONFIG);
  fillBatch(hb, data, 1, 2, field, first, Int32Array.of(9, 30, 2, 5));
  t.equal(hb.size, 2);
  t.same(Array.from(hb.ids.subarray(0, 2 * F)), [...data.ids.subarray(30 * F, 31 * F), ...data.ids.subarray(2 * F, 3 * F)], 'ids of samples 30, 2');
  t.same(Array.from(hb.labels.subarray(0, 2)), [0, 0]);
  const id = data.ids[30 * F + 1];
  t.same(Array.from(hb.emb.subarray(CONFIG.embedDim, 2 * CONFIG.embedDim)), Array.from(field.weights.subarray(id * CONFIG.embedDim, (id + 1) * CONFIG.embedDim)), 'gathered row');
  t.equal(hb.linear[1], first.weights[id]);
  t.throws(() => fillBatch(hb, data, 3, 2, field, first, Int32Array.of(9, 30, 2, 5)), RangeError, 'past the order');
  t.throws(() => fillBatch(hb, data, 0, 5, field, first), RangeError, 'over capacity');

  const gc = new GradientComputer(models[2], 8);
  const all = new Float32Array(rows);
  await gc.predictData(denses[2], field, first, data, all);
  const one = new Float32Array(1);
  const single = allocBatch(1, CONFIG);
  const bigGc = new GradientComputer(models[2], 1);
  let worst = 0;
  for (const r of [0, 7, 8, 36]) {
    fillBatch(single, data, r, 1, field, first);
    await bigGc.predict(denses[2], single, one);
    worst = Math.max(worst, Math.abs(one[0] - all[r]));
  }
  t.ok(worst < 1e-6, `chunked predictions equal single-row ones (${worst})`);
  const packedAll = new Float32Array(rows);
  await new GradientComputer(models[2], 8, { transfer: 'packed' }).predictData(denses[2], field, first, data, packedAll);
  t.same(packedAll, all, 'packed predictData = direct');
});
