// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-blob.d.ts" />
/// <reference path="./drhost-runbook-secret.d.ts" />
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/vault@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  export type Blob = import('drhost:runbook/blob@0.2.0').Blob;
  export type Secret = import('drhost:runbook/secret@0.2.0').Secret;
  /**
   * One field's value to write.
   */
  export type FieldValue = FieldValueText | FieldValueSecret;
  export interface FieldValueText {
    tag: 'text',
    val: string,
  }
  export interface FieldValueSecret {
    tag: 'secret',
    val: Secret,
  }
  /**
   * One version of a KV v2 secret.
   */
  export interface VersionInfo {
    version: bigint,
    /**
     * RFC 3339.
     */
    createdTime: string,
    /**
     * RFC 3339; empty unless deleted.
     */
    deletionTime: string,
    destroyed: boolean,
  }
  /**
   * A KV v2 secret's metadata.
   */
  export interface Metadata {
    currentVersion: bigint,
    oldestVersion: bigint,
    createdTime: string,
    updatedTime: string,
    versions: Array<VersionInfo>,
  }
  /**
   * Whether the server is initialised and sealed (`vault status`).
   */
  export interface SealStatus {
    initialized: boolean,
    sealed: boolean,
    /**
     * Unseal keys submitted so far, of `threshold` needed.
     */
    progress: number,
    threshold: number,
  }
  
  export class Store implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Opens the target `label` (`[targets.vault.<label>]`). A sealed
    * or uninitialised server opens; calls that need it unsealed are then
    * `unavailable`.
    */
    static open(label: string): Store;
    /**
    * Read. Initialised, sealed, unseal progress.
    */
    sealStatus(): SealStatus;
    /**
    * Unseal. Submits the unseal keys the operator's config references
    * (`unseal-keys = "file:…"` in `[targets.vault.<label>]`; the plugin
    * never sees them) until the server is unsealed; an unsealed server is
    * left as it is. A key the server refuses is `failed`.
    */
    unseal(): SealStatus;
    /**
    * Read. The latest version of the secret at `path`: each field as a
    * handle.
    */
    read(path: string): Array<[string, Secret]>;
    /**
    * Write. Writes a new version holding exactly these fields (like `vault
    * kv put`); returns the new version number.
    */
    write(path: string, fields: Array<[string, FieldValue]>): bigint;
    /**
    * Write. Writes a new version with these fields changed and the others
    * kept (like `vault kv patch`); returns the new version number.
    */
    patch(path: string, fields: Array<[string, FieldValue]>): bigint;
    /**
    * Read. The keys under `path` (folders end with `/`).
    */
    list(path: string): Array<string>;
    /**
    * Read. The versions of the secret at `path`.
    */
    metadata(path: string): Metadata;
    /**
    * Snapshot. Saves a raft snapshot into a host-side blob.
    */
    snapshotSave(): Blob;
    /**
    * Snapshot. Restores a raft snapshot; `force` accepts one taken from
    * another cluster (its unseal keys then apply).
    */
    snapshotRestore(data: Blob, force: boolean): void;
    [Symbol.dispose](): void;
  }
}
