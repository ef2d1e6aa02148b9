/** bench/train-throughput.ts's markdown: one row per case, ours against torch, then the notes. */
import { markdownTable } from './common.js';
import type { ThroughputReport } from './train-throughput-summary.js';

/** Prints `report` to stdout; `torchDevice` (--torch-device) labels the torch columns even when torch did not run. */
export function printThroughput(report: ThroughputReport, torchDevice: string): void {
  const { machine, settings, results } = report;
  const torchInfo = typeof report.torch === 'string' ? null : report.torch;
  const torchThreads = torchInfo?.threads ?? [];
  const torchLabel = torchDevice === 'cuda' ? 'cuda' : `${settings.threads} thr`;
  const gpu = settings.transfer === 'packed';
  const f = (x: number | null | undefined, d = 0) => (x == null ? '-' : x.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d }));
  const range = (xs: number[] | undefined) => (xs?.length ? `${f(Math.min(...xs))}-${f(Math.max(...xs))}` : '-');
  const allCol = torchThreads.length > 1;
  console.log(
    '\n' +
      markdownTable(
        [
          'model',
          'batch',
          'embed update',
          'ours samples/s',
          'ours min-max',
          `torch samples/s (${torchLabel})`,
          'torch min-max',
          'ours/torch',
          ...(allCol ? [`torch samples/s (${machine.cores} thr)`, `ours/torch (${machine.cores} thr)`] : []),
          'ours ms/step',
          'ours split: data / tfjs / merge / comm / update ms',
          ...(gpu ? ['tfjs split: pack / dispatch / device / readback ms', 'per step: uploads (MB) / readbacks (MB)'] : []),
          'torch ms/step',
          'RSS MB',
        ],
        results.map((r) => [
          r.model,
          r.batch,
          r.embedUpdate,
          f(r.samplesPerSec),
          range(r.samplesPerSecAll),
          f(r.torch?.samplesPerSec),
          range(r.torch?.samplesPerSecAll),
          f(r.ratio, 2),
          ...(allCol ? [f(r.torchAllCores?.samplesPerSec), f(r.ratioAllCores, 2)] : []),
          f(r.msPerStep, 1),
          [r.splitMs.data, r.splitMs.compute, r.splitMs.merge, r.splitMs.comm, r.splitMs.update].map((x) => f(x, 1)).join(' / '),
          ...(r.transfer
            ? [
                [r.transfer.packMs, r.transfer.dispatchMs, r.transfer.deviceMs, r.transfer.readbackMs].map((x) => f(x, 1)).join(' / '),
                `${f(r.transfer.uploads, 1)} (${f(r.transfer.upMB, 1)}) / ${f(r.transfer.readbacks, 1)} (${f(r.transfer.downMB, 1)})`,
              ]
            : []),
          f(r.torch?.msPerStep, 1),
          f(r.rssMB),
        ]),
        [0, 2],
      ),
  );
  console.log(
    `\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, tfjs ${machine.tfjs} ${machine.backend}` +
      `${machine.backend === 'wasm' ? ' (one thread)' : machine.adapter !== null ? ` (${machine.adapter})` : ''}; MLP ${settings.mlp.join('-')}; ` +
      `${settings.embeddingRows.toLocaleString('en')} embedding rows (${settings.data}); ` +
      `median of ${settings.repeats} interleaved repeats (ours, then torch${torchThreads.length > 1 ? ' at each thread count' : ''}, per configuration) after ` +
      `${settings.warmupSteps} warm-up steps; load average ${machine.loadavg.join(' ')} at start, ${machine.loadavgEnd.join(' ')} at end; ` +
      `RSS after each case's warm-up (cases run in ascending batch), peak ${f(machine.peakRssMB)} MB (this process; torch runs in its own).`,
  );
  const peakLoad = Math.max(...report.runs.map((r) => r.loadavg[0]), machine.loadavgEnd[0]);
  const uniq = results.filter((r) => r.torch).map((r) => `${f(r.uniqueIdsPerStep)}/${f(r.torch!.uniqueIdsPerStep)} at ${r.batch}`);
  console.log(
    `Bench wall time ${f(report.wallSeconds / 60, 1)} min.` +
      (uniq.length ? ` Distinct IDs per step ours/torch (same Zipf law, other draws): ${[...new Set(uniq)].join(', ')}.` : '') +
      (peakLoad > machine.cores - 1
        ? ` The machine was shared (1-min load average up to ${peakLoad} on ${machine.cores} cores): every figure is slowed` +
          (torchThreads.length > 1 ? ', torch on all cores most (its OpenMP threads wait for descheduled peers).' : '.')
        : ''),
  );
  if (gpu) {
    console.log(
      'tfjs = the dense step as the trainer times it: pack (host copies into the staging buffer), dispatch (building and queueing ' +
        'the tfjs graph, the upload queued with it), device (until the GPU has run the upload and the kernels), readback (loss and ' +
        'gradients, one buffer); data, merge and update run on the host.',
    );
  }
  console.log(
    torchInfo
      ? `PyTorch ${torchInfo.version} (${torchInfo.python}${torchInfo.cudaDevice && torchDevice === 'cuda' ? `, ${torchInfo.cudaDevice}` : ''}), bench/torch_deepfm.py: ${torchInfo.note}`
      : `PyTorch reference ${report.torch}.`,
  );
}
