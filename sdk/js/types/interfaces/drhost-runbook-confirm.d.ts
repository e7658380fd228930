// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/confirm@0.2.0' {
  /**
   * Read. Asks the operator; true when approved. `drhost run --yes`
   * approves every question (journaled). Without a terminal and without
   * `--yes` the answer is `unavailable`, never a silent yes.
   */
  export function ask(question: string): boolean;
  export type Error = import('drhost:runbook/types@0.2.0').Error;
}
