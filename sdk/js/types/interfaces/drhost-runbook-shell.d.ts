// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/shell@0.2.0' {
  /**
   * Write. Runs the program with an empty environment (PATH only) in the
   * run's scratch directory, no stdin.
   */
  export function run(cmd: Command): Completed;
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  /**
   * A program and its arguments, passed to the program as they are.
   */
  export interface Command {
    /**
     * A program name (looked up in /usr/local/bin, /usr/bin, /bin) or an
     * absolute path; it must match a `shell` grant.
     */
    program: string,
    /**
     * Each argument must match the grant's pattern at its position.
     */
    args: Array<string>,
    /**
     * Defaults to 60 s; never beyond the grant's or the run's deadline.
     */
    timeoutMs?: number,
  }
  /**
   * How the program ended. A non-zero exit is a result, not an error.
   */
  export interface Completed {
    /**
     * None when the program was killed by a signal.
     */
    exitCode?: number,
    /**
     * Output as UTF-8 (invalid bytes replaced), each capped at 1 MiB.
     */
    stdout: string,
    stderr: string,
    /**
     * Whether stdout or stderr was cut at the cap.
     */
    truncated: boolean,
    durationMs: bigint,
  }
}
