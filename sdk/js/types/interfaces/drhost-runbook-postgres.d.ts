// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-blob.d.ts" />
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/postgres@0.2.0' {
  /**
   * Read. Where target `label` is, without credentials. Makes no connection.
   */
  export function info(label: string): TargetInfo;
  /**
   * Admin (the `admin` grant). Creates target `label`'s database (through
   * the server's `postgres` database) unless it exists; true when it
   * created it. Works while the database itself is gone.
   */
  export function createDatabase(label: string): boolean;
  /**
   * Admin (the `restore` grant). The host runs `pg_restore` on the blob's
   * host-side file into target `label`'s database (or `options.database`);
   * the bytes never enter the plugin.
   */
  export function restore(label: string, data: Blob, options: RestoreOptions): RestoreReport;
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  export type Blob = import('drhost:runbook/blob@0.2.0').Blob;
  /**
   * The result of a query: column names, then each row's values as text
   * (`none` is SQL NULL).
   */
  export interface Rows {
    columns: Array<string>,
    rows: Array<Array<string | undefined>>,
  }
  /**
   * Where a target is, without its credentials (e.g. to compose a
   * connection URL around a secret handle).
   */
  export interface TargetInfo {
    host: string,
    port: number,
    user: string,
    database: string,
    /**
     * Whether connections use TLS (the URL's `sslmode`).
     */
    tls: boolean,
  }
  /**
   * `pg_restore` options; the runbook's are clean, if-exists, no-owner and
   * no-privileges.
   */
  export interface RestoreOptions {
    /**
     * `--clean`: drop database objects before recreating them.
     */
    clean: boolean,
    /**
     * `--if-exists`: with `clean`, do not fail on objects that are missing.
     */
    ifExists: boolean,
    /**
     * `--no-owner`: do not set ownership to match the original database.
     */
    noOwner: boolean,
    /**
     * `--no-privileges`: do not restore grants.
     */
    noPrivileges: boolean,
    /**
     * `--jobs`: parallel restore jobs; 0 or 1 means one.
     */
    jobs: number,
    /**
     * Restore into this database on the target's server instead of the
     * target's own database (the grant must list it in `databases`).
     */
    database?: string,
  }
  /**
   * What a finished `pg_restore` reported.
   */
  export interface RestoreReport {
    /**
     * The database restored into.
     */
    database: string,
    durationMs: bigint,
    /**
     * `pg_restore`'s warnings (at most 20 lines).
     */
    warnings: Array<string>,
  }
  
  export class Database implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Connects to the target `label` (`[targets.postgres.<label>]`).
    */
    static open(label: string): Database;
    /**
    * Read. Runs a statement returning rows; parameters `$1…` are sent as
    * text (cast in SQL when needed, e.g. `$1::int`).
    */
    query(sql: string, params: Array<string>): Rows;
    /**
    * Write. Runs a statement; returns the number of rows it changed.
    */
    execute(sql: string, params: Array<string>): bigint;
    /**
    * Admin (the `dump` grant). The host runs `pg_dump -Fc` into a host-side
    * file; the guest gets a blob handle, not the bytes.
    */
    dump(): Blob;
    [Symbol.dispose](): void;
  }
}
