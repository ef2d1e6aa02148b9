/** bench/sharded.ts's markdown: measured, model and projection tables, the emulated network's, and their notes. */
import { markdownTable } from './common.js';
import { commSeconds, traffic, V1_VOCAB, type Link, type Shape } from './projection.js';
import { MB } from './sharded-runs.js';
import type { BenchOutput, Summary } from './sharded-summary.js';

/**
 * Prints the tables of `out` to stdout. `model` holds what the JSON does not: the shapes the model was evaluated at
 * (the vocabularies) and the link as given.
 */
export function printTables(out: BenchOutput, model: { shape: Shape; projShape: Shape; link: Link }): void {
  const { settings: st, results, machine } = out;
  const { shape, projShape, link } = model;
  const { comparisons, crossover } = out.model;
  const { timing } = st.projection;
  const issue = out.projection.issueExample;
  const netem = out.netem;
  const f = (x: number, dd = 0) => x.toLocaleString('en', { minimumFractionDigits: dd, maximumFractionDigits: dd }).replace(/^-(0(\.0+)?)$/, '$1');
  const mb = (x: number) => f(x / MB, 2);
  const ratio = (x: number | null) => (x === null ? '–' : `${f(x, 2)}x`);
  const label = (n: number) => (n > machine.cores ? `${n} (oversubscribed)` : String(n));
  const pct = (x: number) => `${f(100 * x, 1)}%`;
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'N', 'dense MB sent', 'sparse MB sent', 'sparse MB received', 'all MB sent / received', 'local unique IDs', 'IDs applied', 'step ms', 'comm ms rank 0', 'comm share', 'comm after training ms/step', 'sparse imbalance'],
        results.map((s) => [
          s.strategy,
          label(s.n),
          mb(s.perRank.denseSent),
          mb(s.perRank.sparseSent),
          s.sparseReceivedDerivable ? mb(s.perRank.sparseReceived) : '–',
          `${mb(s.perRank.sentAll)} / ${mb(s.perRank.receivedAll)}`,
          f(s.perRank.uniqueLocal),
          f(s.perRank.uniqueApplied),
          f(s.stepMs),
          f(s.commMs),
          pct(s.commShare),
          f(s.commMsAfterTraining),
          ratio(s.sparseImbalance),
        ]),
        [0],
      ),
  );
  console.log(
    `\nPer rank per step, mean over ranks (median of ${st.repeats} run(s)); ${st.model} MLP ${st.mlp.join('-')}, d=${shape.embedDim}, ${f(st.numDense)} dense params, ` +
      `${st.data}, global batch ${st.globalBatch}, ${st.steps} steps per run (the first, with warm-up, included); ${machine.cores} cores, load ${machine.loadavg.join(' ')} at start, ${machine.loadavgEnd.join(' ')} at end. ` +
      `Sparse received is derived (sent + (received - sent) / steps; not for parameter servers, whose final fetch is one-way); "all" is the whole run's traffic / steps (evaluation and checks included). ` +
      `Comm: rank 0's time waiting in collectives over the training steps (its --metrics record); "after training" is what its report adds, per step: the final refresh of sharded and ps (every owner's rows and optimizer state gathered), after the last step. MB = 10^6 bytes.` +
      (st.skipped.length ? `\nSkipped: ${st.skipped.map((s) => `${s.strategy} (${s.reason})`).join('; ')}.` : ''),
  );
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'N', 'local unique IDs: measured / model', 'IDs applied: measured / model', 'dense MB sent: measured / model', 'sparse MB sent: measured / model', 'sparse MB received: measured / model'],
        comparisons.map((c) => [
          c.strategy,
          label(c.n),
          ...[c.uniqueLocal, c.uniqueApplied].map((p) => `${f(p.measured)} / ${f(p.predicted)} (${ratio(p.ratio)})`),
          ...[c.denseSent, c.sparseSent, c.sparseReceived].map((p) => `${mb(p.measured)} / ${mb(p.predicted)} (${ratio(p.ratio)})`),
        ]),
        [0],
      ),
  );
  console.log(
    `\nModel (bench/projection.ts): expected distinct IDs of the v1 generator's distribution (sum over IDs of 1 - (1 - p)^(B/N)); IDs applied = the global batch's ` +
      `(sharded: x (steps-1)/steps, as owners report one step late). Bytes: all-gather, (N-1) x the rank's encodeSparse payload (16-byte header, id + count + ${shape.embedDim + 1} float32 ` +
      `values per row); sharded, (N-1)/N of the rank's IDs asked (4 B), pushed (8 + ${4 * (shape.embedDim + 1)} B) and answered (${4 * (shape.embedDim + 1)} B); dense, the ring's 2(N-1)/N x numDense x 4. ` +
      `All-gather sparse traffic overtakes the dense all-reduce from N = ${crossover.atMeasuredBatch ?? '–'} at batch ${st.globalBatch}.`,
  );
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'N', 'local batch', 'local unique IDs', 'dense MB', 'sparse MB received', 'comm ms', 'compute ms', 'step ms', 'comm share'],
        out.projection.results.map((p) => [
          p.strategy,
          p.n,
          f(p.batch / p.n),
          f(p.traffic.uniqueLocal),
          mb(p.traffic.dense.received),
          mb(p.traffic.sparse.received),
          f(p.commSec * 1e3, 1),
          f(p.computeSec * 1e3, 1),
          f(p.stepSec * 1e3, 1),
          pct(p.commShare),
        ]),
        [0],
      ),
  );
  const fields = projShape.vocab.sizes.length;
  const vocabText =
    projShape.vocab === V1_VOCAB
      ? `the v1 vocabulary (${f(V1_VOCAB.sizes.reduce((a, b) => a + b, 0))} IDs, zipf ${V1_VOCAB.zipf})`
      : `v1 sizes x ${st.projection.vocabScale} (${f(projShape.vocab.sizes.reduce((a, b) => a + b, 0))} IDs), zipf ${st.projection.zipf}`;
  console.log(
    `\nProjection at global batch ${st.projection.batch}, ${vocabText}, ${link.bitsPerSec / 1e9} Gbit/s per rank, ${f(link.latencySec * 1e6)} us per message round. ` +
      `Compute per rank, both strategies: ${f(timing.computeSecPerSample * 1e6, 1)} us/sample x B/N + ${f(timing.fixedSec * 1e3, 1)} ms/step (${timing.from}; measured on this machine, so a faster device shrinks it and raises the comm share). ` +
      `All-gather sparse bytes overtake the dense all-reduce from N = ${crossover.atProjectBatch ?? '–'}. ` +
      `Issue example (DeepFM d=${issue.embedDim}, N=${issue.n}, batch ${issue.batch}, "~${issue.receivedMB} MB received per rank per step"): the model gives ${f(issue.predictedMB, 1)} MB ` +
      `(${f(issue.uniqueLocal)} distinct of ${f((issue.batch / issue.n) * fields)} ID draws per rank); with every draw distinct (the bound for a vocabulary far larger than the batch) ${f(issue.allDistinctMB, 1)} MB.`,
  );
  if (netem.status === 'skipped') {
    console.log(`\nEmulated network: skipped (${netem.reason}).`);
    return;
  }
  const loop = (s: Summary) => results.find((r) => r.strategy === s.strategy && r.n === s.n);
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'link', 'N (namespaces)', 'step ms', 'loopback step ms', 'comm ms rank 0', 'comm share', 'MB sent / received per step', 'link floor ms', 'model comm ms', 'link MB sent per rank (job)'],
        netem.results.map((s) => {
          const rateBits = s.rateBits!;
          const predicted = s.model ? traffic(s.model, s.n, st.globalBatch, shape) : null;
          const netLink: Link = { bitsPerSec: rateBits, latencySec: link.latencySec };
          const stepBytes = { sent: s.perRank.denseSent + s.perRank.sparseSent, received: s.perRank.denseSent + s.perRank.sparseReceived };
          return [
            s.strategy,
            `${rateBits / 1e9} Gbit/s`,
            label(s.n),
            f(s.stepMs),
            loop(s) ? f(loop(s)!.stepMs) : '–',
            f(s.commMs),
            pct(s.commShare),
            `${mb(stepBytes.sent)} / ${s.sparseReceivedDerivable ? mb(stepBytes.received) : '–'}`,
            f((Math.max(stepBytes.sent, s.sparseReceivedDerivable ? stepBytes.received : 0) * 8 * 1e3) / rateBits, 1),
            predicted ? f(commSeconds(predicted, netLink) * 1e3, 1) : '–',
            s.wire ? mb(s.wire.txPerRank) : '–',
          ];
        }),
        [0],
      ),
  );
  console.log(
    `\nEmulated network: one namespace per rank on a bridge, each link limited each way (${netem.shaping.map((s) => (s.kind === 'none' ? s.reason : s.spec)).filter((x, i, a) => a.indexOf(x) === i).join('; ')}); ` +
      `one ddp-launch --nnodes N -n 1 per namespace, DDP_BLAS_THREADS = cores / N. MB per step = the strategy's dense + sparse bytes (as in the first table); link floor = their max(sent, received) at the link rate; ` +
      `model comm = the model's bytes at that rate plus ${f(link.latencySec * 1e6)} us per round. "link MB" is what the kernel counted on the rank's interface over the whole job (rendezvous, evaluation and checks, TCP/IP headers included).`,
  );
}
