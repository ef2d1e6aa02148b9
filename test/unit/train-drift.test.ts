import t from 'tap';
import type { Communicator } from '../../src/comm/communicator.js';
import { LocalCommunicator } from '../../src/comm/local.js';
import { parseTrainConfig } from '../../src/config/train-config.js';
import { loadData } from '../../src/data/load.js';
import { checkReplicas, ReplicaDriftError } from '../../src/train/drift.js';
import { buildReplica, shapeOf } from '../../src/replica/replica.js';

/** A 3-rank communicator whose peers answer the all-gather with the given (possibly altered) payloads. */
function fakeComm(alter: (mine: Uint8Array, rank: number) => Uint8Array): Communicator {
  const local = new LocalCommunicator();
  return Object.assign(Object.create(local) as Communicator, {
    rank: 0,
    size: 3,
    allgatherv: async (mine: Uint8Array) => [mine, alter(mine, 1), alter(mine, 2)],
  });
}

t.test('the drift guard names the differing tensor and ranks', async (t) => {
  const cfg = parseTrainConfig(['--data', 'synthetic:quick,rows=500,eval-rows=100', '--mlp', '8', '--embed-dim', '4']);
  const data = await loadData({ data: cfg.data, split: cfg.split, seed: 1, minCount: 1, numericTransform: 'log1p', skipBadLines: false });
  const rep = buildReplica(cfg, shapeOf(data));
  await checkReplicas(rep, fakeComm((m) => m), 7); // identical digests: passes

  // Rank 2's digest of the 3rd tensor differs (as if one of its bytes had flipped).
  const flip = (m: Uint8Array, rank: number) => {
    const c = m.slice();
    if (rank === 2) c[2 * 8] ^= 1;
    return c;
  };
  await t.rejects(checkReplicas(rep, fakeComm(flip), 7), new ReplicaDriftError('replica drift at step 7: dense/dnn.0.w differs on rank(s) 2 from rank 0'));
});
