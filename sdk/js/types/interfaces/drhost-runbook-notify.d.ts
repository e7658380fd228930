// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/notify@0.2.0' {
  /**
   * Write. Posts `notice` to the channel `label`. A webhook that does not
   * answer is `unavailable` or `timeout` (10 s at most): a plugin reports
   * it and goes on, a dead channel must never stop a recovery.
   */
  export function post(label: string, notice: Notice): void;
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  /**
   * How the notice is marked in the channel.
   * # Variants
   * 
   * ## `"info"`
   * 
   * ## `"warning"`
   * 
   * ## `"critical"`
   * 
   * ## `"resolved"`
   * 
   * The incident is over.
   */
  export type Severity = 'info' | 'warning' | 'critical' | 'resolved';
  /**
   * One message for people following the incident.
   */
  export interface Notice {
    /**
     * One line, e.g. "Database maintenance mode on".
     */
    title: string,
    /**
     * The message, plain text (at most 4 KiB).
     */
    text: string,
    severity: Severity,
  }
}
