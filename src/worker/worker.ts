import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { checkOutput, checkRunOutputs, makeDirs, rescueDir } from '../util/outputs.js';
import { installCpuKernels } from '../backend/blas.js';
import * as tf from '@tensorflow/tfjs';
import { describeChoice, selectBackend, stepOptionsFor, type BackendChoice } from '../backend/select.js';
import { setStepDefaults } from '../model/step.js';
import { createCommunicator } from '../comm/factory.js';
import { configFingerprint, parseWorkerArgs } from '../config/train-config.js';
import { loadData, loadVocabulary } from '../data/load.js';
import { parseHashBuckets } from '../data/vocab.js';
import { serveFromEnv } from '../ps/server.js';
import { resolveDistEnv, type DistEnv } from '../../topology/env.js';
import type { Communicator } from '../comm/communicator.js';
import type { TransportName } from '../comm/transport.js';
import { expandConfig } from '../config/config-file.js';
import { isScoreCommand, parseScoreConfig, SCORE_FLAGS, scoreFingerprint, scoreHelp, type ScoreCommand } from '../config/score-config.js';
import { runScore } from '../train/score.js';
import { CollectiveError } from '../comm/errors.js';
import { UserError, type WorkerFatal } from '../util/errors.js';
import { ReplicaDriftError } from '../train/drift.js';
import { NonFiniteError } from '../train/numerics.js';
import { saveCheckpoint } from '../train/checkpoint.js';
import { formatSeconds } from '../train/progress.js';
import { MetricsLog, parseMetrics } from '../train/metrics.js';
import { runReportHtml } from '../report/html.js';
import { createLogger, effectiveLevel, type Logger, type LogLevel } from '../util/log.js';
import { packageVersion } from '../util/version.js';
import { buildReport, type RankSummary } from '../train/report.js';
import { paramChecksum, train } from '../train/trainer.js';

/**
 * One training rank. Started by `ddp-launch` (or mpirun/srun), it reads its rank from the environment,
 * joins the others, trains its replica and, on rank 0, writes the report and checkpoint.
 */
async function main(argv: string[]): Promise<void> {
  // Started by ddp-launch: if the launcher dies (even by SIGKILL) the IPC channel closes; never linger.
  if (process.send) process.on('disconnect', () => process.exit(1));
  if (isScoreCommand(argv[0])) return score(argv[0], argv.slice(1));
  const cmd = parseWorkerArgs(argv);
  if ('help' in cmd) return console.log(cmd.help);
  const cfg = cmd.cfg;
  const startedAt = new Date().toISOString();
  if (process.env.DDP_ROLE === 'server') return serveFromEnv(cfg, process.env, (line) => console.log(line));
  const dist = resolveDistEnv();
  // Before any work: a bad output path fails now, on the rank that writes, not after training.
  if (dist.rank === 0) checkRunOutputs(cfg);
  const { comm, logger, choice } = await joinJob(cfg, dist, configFingerprint(cfg));
  const log = logger.info;
  const t = performance.now();
  const data = await loadData({
    data: cfg.data,
    evalData: cfg.evalData,
    split: cfg.split,
    seed: cfg.seed,
    minCount: cfg.minCount,
    hashBuckets: cfg.hashBuckets === undefined ? undefined : parseHashBuckets(cfg.hashBuckets),
    stream: cfg.stream ? { windowSteps: cfg.streamWindow } : undefined,
    numericTransform: cfg.numeric,
    skipBadLines: cfg.skipBadLines,
    // Fine-tuning encodes the data as the checkpoint's model was trained: same keys, same rows.
    vocabulary: cfg.initFrom === undefined ? undefined : { ...(await loadVocabulary(cfg.initFrom)), from: cfg.initFrom },
    onProgress: comm.rank === 0 ? log : undefined,
  });
  const dataSeconds = (performance.now() - t) / 1000;
  if (comm.rank === 0) log(`data: ${data.description} (${formatSeconds(dataSeconds)})`);
  if (comm.rank === 0 && data.stream) {
    const w = data.stream.windowBytes(cfg.globalBatch, comm.size);
    log(`streaming: each rank holds up to 4 windows of its rows (${(w / 1e6).toFixed(1)} MB each, ${(4 * w / 1e6).toFixed(0)} MB) besides the model; peak RSS per rank is in the --report`);
  }

  // Opened before training, so a bad path fails now rather than after hours; appended to when resuming.
  const metrics = comm.rank === 0 && cfg.metrics ? new MetricsLog(cfg.metrics, cfg.resume !== undefined) : undefined;
  let result;
  try {
    result = await train(cfg, data, comm, { log: logger, metrics, backend: choice.name });
  } finally {
    metrics?.close();
  }
  const mine: RankSummary = {
    rank: comm.rank,
    paramChecksum: paramChecksum(result.replica),
    bytes: result.bytes,
    stepTime: result.time,
    uniqueIdsPerStep: result.uniqueIdsPerStep,
    startup: { toFirstStep: result.firstStepAt / 1000, data: dataSeconds },
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  const ranks = (await comm.allgatherv(new TextEncoder().encode(JSON.stringify(mine)))).map((b) => JSON.parse(new TextDecoder().decode(b)) as RankSummary);
  const checksums = ranks.map((r) => r.paramChecksum);
  // Every rank's own account (rank 0's is the job's, below), so that its log (--log-dir) says how it went.
  if (comm.rank > 0) {
    const ms = Object.entries(result.time).map(([k, v]) => `${k} ${((v * 1000) / result.steps).toFixed(1)}`).join(', ');
    log(
      `done: ${result.steps} steps; this rank's ms/step: ${ms}; sent ${(result.bytes.sent / 1e6).toFixed(1)} MB, ` +
        `received ${(result.bytes.received / 1e6).toFixed(1)} MB; parameters ${mine.paramChecksum}`,
    );
  }
  if (comm.rank === 0) {
    const oracle = data.oracle ? ` (oracle auc ${data.oracle.auc.toFixed(4)} logloss ${data.oracle.logloss.toFixed(4)})` : '';
    const { best } = result;
    // With evaluations along the way, the best of them (by --early-stop-metric) too: the model --save-best holds.
    const bestNote = result.history.length > 1 ? `; best eval (by ${best.metric}) at step ${best.step}: auc ${best.auc.toFixed(4)} logloss ${best.logloss.toFixed(4)}${cfg.saveBest ? `, saved to ${cfg.saveBest}` : ''}` : '';
    log(
      `done: ${result.stoppedEarly ? `${result.steps} of ${result.plannedSteps} steps (early stop)` : `${result.steps} steps`} in ${formatSeconds(result.trainSeconds)}, ${Math.round(result.samplesPerSec).toLocaleString('en')} samples/s; ` +
        `eval auc ${result.eval.auc.toFixed(4)} logloss ${result.eval.logloss.toFixed(4)} on ${result.eval.rows} rows${oracle}${bestNote}; ` +
        `clipped ${(result.clipFraction.mean * 100).toFixed(3)}% of batch rows`,
    );
    if (new Set(checksums).size > 1) logger.warn(`warning: replicas differ: ${checksums.join(' ')}`);
    const report = buildReport(cfg, data, result, {
      worldSize: comm.size,
      backend: choice.name,
      ranks,
      startedAt,
      // The user's command when ddp-launch started this worker; otherwise this worker's own.
      command: process.env.DDP_COMMAND ?? ['node', ...process.argv.slice(1)].join(' '),
      versions: { ddpCtr: packageVersion(), node: process.version, tfjs: tf.version['tfjs-core'] },
    });
    if (cfg.report) {
      const at = await writeOutput('report', cfg.report, JSON.stringify(report, null, 2) + '\n', logger.warn);
      log(`report written to ${at}`);
    }
    if (metrics) log(`metrics written to ${metrics.path}`);
    if (cfg.html) {
      // The page shows the whole file: with --resume, the interrupted run's records too.
      const records = metrics ? parseMetrics(await readFile(metrics.path, 'utf8'), metrics.path) : [];
      const at = await writeOutput('html', cfg.html, runReportHtml(report, records), logger.warn);
      log(`HTML report written to ${at}`);
    }
    if (cfg.save) {
      let at = cfg.save;
      let m;
      try {
        m = await saveCheckpoint(at, result.replica, cfg, data);
      } catch (err) {
        // The trained model is the one thing never to lose: keep it where it can be written, and say where.
        at = join(rescueDir(), basename(cfg.save));
        logger.warn(`--save ${cfg.save}: cannot write the checkpoint there (${(err as Error).message}); writing it to ${at} instead`);
        m = await saveCheckpoint(at, result.replica, cfg, data);
      }
      log(`checkpoint (step ${m.step}, ${m.tensors.length} tensors) written to ${at}`);
    }
  }
  await comm.barrier();
  await comm.close();
}

/** What joining a job takes from the flags: network, backend, output level. */
interface JobFlags {
  logLevel: LogLevel;
  quiet?: boolean;
  bind?: string;
  port: number;
  collectiveTimeout: number;
  transport: TransportName;
  secure?: boolean;
  backend: string;
}

/** Meets the other ranks, handles stop signals, and picks the tensor backend and kernels (said on rank 0). */
async function joinJob(flags: JobFlags, dist: DistEnv, fingerprint: string): Promise<{ comm: Communicator; logger: Logger; choice: BackendChoice }> {
  debugErrors = effectiveLevel(flags.logLevel, flags.quiet) === 'debug';
  const logger = createLogger(effectiveLevel(flags.logLevel, flags.quiet));
  const comm = await createCommunicator({
    fingerprint,
    env: dist,
    bind: flags.bind,
    // One --port for all ranks of a host: local rank R takes PORT+R, so they never collide.
    port: flags.port && flags.port + dist.localRank,
    collectiveTimeoutMs: flags.collectiveTimeout * 1000,
    transport: flags.transport,
    secure: flags.secure ?? false,
  });
  // Stopped by a launcher (ours, mpirun, srun) or Ctrl-C: close the sockets first, so ranks on other hosts stop
  // at their next collective instead of waiting out --collective-timeout, and quietly: the launcher says why.
  const stop = (signal: NodeJS.Signals, code: number) => () => {
    stopping = true;
    void comm.close(`${STOPPING} rank ${comm.rank} got ${signal}`).finally(() => process.exit(code));
  };
  process.once('SIGTERM', stop('SIGTERM', 143));
  process.once('SIGINT', stop('SIGINT', 130));
  const choice = await selectBackend({ forced: flags.backend });
  setStepDefaults(stepOptionsFor(choice.name, tf));
  const kernels = installCpuKernels(choice.name);
  // With one GPU per rank, every rank says which one it has.
  if (comm.rank === 0 || choice.adapter?.mapping) logger.info(`${describeChoice(choice)}; ${kernels.description}`);
  if (choice.adapter?.warning) logger.warn(`rank ${comm.rank}: ${choice.adapter.warning}`);
  return { comm, logger, choice };
}

/** `ddp-launch eval|predict` on this rank (src/train/score.ts). */
async function score(command: ScoreCommand, argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return console.log(scoreHelp(command));
  const cfg = parseScoreConfig(command, expandConfig(argv, SCORE_FLAGS));
  const dist = resolveDistEnv();
  if (dist.rank === 0 && cfg.out) checkOutput('out', cfg.out, 'file');
  const { comm, logger } = await joinJob(cfg, dist, scoreFingerprint(cfg));
  await runScore(cfg, comm, logger);
  await comm.barrier();
  await comm.close();
}

/** Writes `flag`'s file; if that fails (checked at start, but disks fill and folders vanish), a rescue copy. Returns where it went. */
async function writeOutput(flag: string, file: string, text: string, warn: (line: string) => void): Promise<string> {
  try {
    makeDirs(dirname(file));
    await writeFile(file, text);
    return file;
  } catch (err) {
    const rescued = join(rescueDir(), basename(file));
    warn(`--${flag} ${file}: cannot write it (${(err as Error).message}); writing it to ${rescued} instead`);
    await writeFile(rescued, text);
    return rescued;
  }
}

/** --log-level debug: unexpected errors show their stack. */
let debugErrors = false;
/** Set by a stop signal: what fails after it is the stop itself, which the launcher reports once. */
let stopping = false;
const STOPPING = 'stopping:';

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    // Expected failures get their message alone; anything else one line too (its stack with --log-level debug).
    const known = err instanceof UserError || err instanceof NonFiniteError || err instanceof CollectiveError || err instanceof ReplicaDriftError;
    // A peer's stop reaches this rank as an error; its own signal is on its way.
    if (stopping || (err instanceof CollectiveError && err.message.startsWith(STOPPING))) process.exit(143);
    const code = err instanceof UserError ? 2 : 1;
    const message = known
      ? err.message
      : debugErrors
        ? String((err as Error)?.stack ?? err)
        : `${String((err as Error)?.message ?? err).split('\n')[0]} (unexpected: --log-level debug shows where it came from)`;
    // Under ddp-launch the launcher prints it, once for the job (launcher/supervisor.ts); under mpirun or srun, each rank does.
    if (process.send && process.connected) {
      const fatal: WorkerFatal = { message, consequence: err instanceof CollectiveError };
      process.send({ fatal }, () => process.exit(code));
      return;
    }
    const rank = Number(process.env.WORLD_SIZE) > 1 && process.env.RANK ? `rank ${process.env.RANK}: ` : '';
    console.error(`error: ${rank}${message}`);
    process.exit(code);
  },
);
