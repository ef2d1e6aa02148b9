// Workers started by Open MPI's mpirun instead of ddp-launch: ranks come from OMPI_COMM_WORLD_*, the rendezvous
// endpoint and token from -x. The job must train exactly the model ddp-launch -n 2 trains.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from '../src/train/report.js';
import { freePort } from '../src/util/net.js';
import { launch, Proc, REPO, TINY } from './fixtures/launcher/procs.js';

const WORKER = join(REPO, 'dist/src/worker/worker.js');

function hasMpirun(): boolean {
  try {
    execFileSync('mpirun', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('mpirun -np 2 runs a job without ddp-launch: identical replicas, the same model as ddp-launch -n 2', async (t) => {
  if (!hasMpirun()) {
    if (process.env.CI === 'true') t.fail('mpirun is missing: .ci/run installs openmpi-bin');
    else t.plan(0, 'NOTICE: mpirun not found (apt-get install openmpi-bin); skipping the Open MPI test');
    return;
  }
  const dir = t.testdir();
  const mpiReport = join(dir, 'mpirun.json');
  const port = await freePort();
  // --allow-run-as-root: CI runs as root; --oversubscribe: more ranks than cores is fine here.
  const mpi = new Proc(t, 'mpirun', [
    '--allow-run-as-root', '--oversubscribe', '-np', '2',
    '-x', 'MASTER_ADDR=127.0.0.1', '-x', `MASTER_PORT=${port}`, '-x', 'DDP_TOKEN=mpirun-test',
    process.execPath, WORKER, ...TINY, '--report', mpiReport,
  ]);
  const mpiExit = await mpi.exit;
  t.equal(mpiExit.code, 0, 'the mpirun job succeeds', mpi.output());

  const launchReport = join(dir, 'launch.json');
  const ddp = launch(t, ['-n', '2', '--gpus', 'none', ...TINY, '--report', launchReport]);
  t.equal((await ddp.exit).code, 0, 'the ddp-launch job succeeds', ddp.output());

  const viaMpi = JSON.parse(readFileSync(mpiReport, 'utf8')) as RunReport;
  const viaLaunch = JSON.parse(readFileSync(launchReport, 'utf8')) as RunReport;
  t.equal(viaMpi.worldSize, 2, 'both ranks joined one job (ranks from OMPI_COMM_WORLD_*)');
  t.equal(viaMpi.paramChecksums.length, 2);
  t.equal(new Set(viaMpi.paramChecksums).size, 1, `identical replicas: ${viaMpi.paramChecksums.join(' ')}`);
  t.equal(viaMpi.eval.auc, viaLaunch.eval.auc, `eval AUC ${viaMpi.eval.auc.toFixed(4)} under both launchers`);
  t.same(viaMpi.paramChecksums, viaLaunch.paramChecksums, 'bit-identical parameters under both launchers');
});
