/**
 * An error caused by the user's input (flags, files, environment). The CLI prints its message alone,
 * without a stack trace, so the message must name the flag/file/line and what was expected.
 */
export class UserError extends Error {
  override name = 'UserError';
}
