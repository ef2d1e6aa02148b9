/**
 * An error caused by the user's input (flags, files, environment). The CLI prints its message alone,
 * without a stack trace, so the message must name the flag/file/line and what was expected.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * What a failing worker sends its launcher over the IPC channel before it exits, instead of printing it: the
 * launcher prints the job's root cause once (launcher/supervisor.ts).
 */
export interface WorkerFatal {
  message: string;
  /** A collective error: losing a peer is a consequence of another rank's failure, rarely its own cause. */
  consequence: boolean;
}
