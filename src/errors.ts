// Errors meant for the user: a message, a hint and the exit code the CLI returns.

/** Exit codes, the CLI's contract with scripts (see README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** Invalid input, failed operation. */
  error: 1,
  /** `region diff`: the operation succeeded and something would change. */
  changes: 2,
  /** Bad command-line usage; also `region up` without a terminal and without --yes. */
  usage: 64,
  /** `region up`: another run holds the region's lock (EX_TEMPFAIL: try again later). */
  locked: 75,
  /** `region up`: cancelled by SIGINT/SIGTERM, stopped between two actions (128 + SIGINT). */
  cancelled: 130,
  /** Something civostack did not expect: a bug; run with --debug for the stack. */
  internal: 70,
} as const;

export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: number = ExitCode.error,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
