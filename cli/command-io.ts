// What every command returns (the text for stdout) and what it may use besides (stderr for
// progress, whether stdout takes colours). main.ts owns the process itself.
export interface CommandOutput {
  stdout: string;
}

export interface CommandIo {
  /** Progress and notes go here (through cli/reporter.ts's policy), so stdout stays machine-readable. */
  stderr: NodeJS.WriteStream;
  /** Whether stdout is a terminal that takes colours. */
  color?: boolean;
}
