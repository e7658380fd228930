// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
declare module 'drhost:runbook/types@0.2.0' {
  /**
   * Why a capability call did not succeed. Every capability returns this;
   * a refusal is a value the plugin can handle, never a hang or a trap.
   */
  export type Error = ErrorAccessDenied | ErrorNotFound | ErrorInvalidArgument | ErrorUnavailable | ErrorTimeout | ErrorConflict | ErrorFailed | ErrorPlanned;
  /**
   * The call is outside the operator's grants. The text names the
   * `drhost.toml` grant that would allow it.
   */
  export interface ErrorAccessDenied {
    tag: 'access-denied',
    val: string,
  }
  /**
   * The target, object or program does not exist.
   */
  export interface ErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  /**
   * The plugin passed something malformed.
   */
  export interface ErrorInvalidArgument {
    tag: 'invalid-argument',
    val: string,
  }
  /**
   * The service is down, refused the connection, or cannot be resolved.
   */
  export interface ErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
  /**
   * The call did not finish within its timeout.
   */
  export interface ErrorTimeout {
    tag: 'timeout',
    val: string,
  }
  /**
   * The state changed under us (e.g. the object already exists).
   */
  export interface ErrorConflict {
    tag: 'conflict',
    val: string,
  }
  /**
   * The service answered with an error.
   */
  export interface ErrorFailed {
    tag: 'failed',
    val: string,
  }
  /**
   * Plan mode (`drhost run --plan`): the host recorded this change and did
   * not make it. The text says what would have changed. A plugin treats it
   * as "done" and skips waits that only make sense after a real change.
   */
  export interface ErrorPlanned {
    tag: 'planned',
    val: string,
  }
  /**
   * How much a need or a grant may change.
   * # Variants
   * 
   * ## `"read"`
   * 
   * Looks only: list, inspect, get, probe.
   * ## `"write"`
   * 
   * Changes state: restart, put, run a program.
   * ## `"admin"`
   * 
   * Changes that are hard to undo: failover, restore, drop.
   */
  export type Access = 'read' | 'write' | 'admin';
  /**
   * One thing a plugin needs, with the reason shown to the operator.
   * `capability` is an interface name (`shell`, `http`, …); `target` is what
   * it touches (a program, a host[:port], later a target label).
   */
  export interface Need {
    capability: string,
    target: string,
    access: Access,
    why: string,
  }
  /**
   * A parameter the plugin takes; no default means the operator must set it.
   */
  export interface ParamSpec {
    name: string,
    description: string,
    'default'?: string,
  }
  /**
   * What `describe` returns: `drhost inspect` prints it and grants are
   * checked against it before `run` is called.
   */
  export interface Manifest {
    id: string,
    version: string,
    description: string,
    params: Array<ParamSpec>,
    needs: Array<Need>,
  }
  /**
   * One `--param name=value` from the operator (defaults already applied).
   */
  export interface Param {
    name: string,
    value: string,
  }
  /**
   * A measured or observed result, e.g. "rows-restored" = "1204".
   */
  export interface Fact {
    name: string,
    value: string,
  }
  /**
   * Something the operator must still do by hand, e.g. "start the Redis
   * node at 10.0.0.5:6379 again". Printed last and prominently; a run that
   * succeeds with follow-ups ends "recovered, follow-up required": status
   * `follow-up` in the journal and `--json`, exit code 5.
   */
  export interface FollowUp {
    /**
     * What to do, as an instruction.
     */
    action: string,
    /**
     * Why it matters (what stays degraded until it is done).
     */
    why: string,
  }
  /**
   * Rows for the operator to read as one table (e.g. a health check per
   * service). The CLI prints it once on stdout; `--json` gives the rows.
   */
  export interface Table {
    title: string,
    columns: Array<string>,
    /**
     * Each row has one cell per column.
     */
    rows: Array<Array<string>>,
  }
  /**
   * What a successful run reports.
   */
  export interface Outcome {
    summary: string,
    facts: Array<Fact>,
    tables: Array<Table>,
    followUps: Array<FollowUp>,
  }
  /**
   * What a failed run reports: what went wrong, in which step, what to do,
   * and what was measured or seen up to the failure.
   */
  export interface Failure {
    summary: string,
    step?: string,
    hint?: string,
    facts: Array<Fact>,
    tables: Array<Table>,
  }
}
