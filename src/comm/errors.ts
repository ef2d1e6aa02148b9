/**
 * A collective failed on this rank: ranks called different collectives, a peer aborted, closed or did not
 * arrive in time. The message names the collective (#seq) and the ranks involved; the communicator is
 * unusable afterwards, like an aborted NCCL communicator.
 */
export class CollectiveError extends Error {
  override name = 'CollectiveError';
}
