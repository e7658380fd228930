// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
declare module 'drhost:runbook/run-info@0.2.0' {
  /**
   * Read. This run's mode.
   */
  export function mode(): RunMode;
  /**
   * Read. Milliseconds left before the run's deadline stops the plugin.
   * End waits before it, so the run can leave its own message and state.
   */
  export function timeLeftMs(): bigint;
  /**
   * Whether the run makes changes.
   * # Variants
   * 
   * ## `"live"`
   * 
   * A normal run: changes are made.
   * ## `"plan"`
   * 
   * `drhost run --plan`: reads run for real; every write or admin call
   * returns `error.planned` and is recorded instead of made.
   */
  export type RunMode = 'live' | 'plan';
}
