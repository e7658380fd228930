// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-blob.d.ts" />
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/files@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  export type Blob = import('drhost:runbook/blob@0.2.0').Blob;
  /**
   * What a path is.
   * # Variants
   * 
   * ## `"file"`
   * 
   * ## `"directory"`
   * 
   * ## `"symlink"`
   * 
   * ## `"other"`
   */
  export type Kind = 'file' | 'directory' | 'symlink' | 'other';
  /**
   * One file or directory.
   */
  export interface Entry {
    /**
     * Relative to the directory of the label.
     */
    path: string,
    kind: Kind,
    size: bigint,
    /**
     * Permission bits, e.g. 0o600.
     */
    mode: number,
    /**
     * RFC 3339, UTC.
     */
    modified: string,
  }
  
  export class Directory implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Opens the label (`[targets.files.<label>]`).
    */
    static open(label: string): Directory;
    /**
    * Read. Entries (recursively) whose path matches the glob, e.g.
    * `*.pem` or `**`; only those the grant lets the plugin read.
    */
    list(glob: string): Array<Entry>;
    /**
    * Read. One path's entry; `not-found` when it does not exist.
    */
    stat(path: string): Entry;
    /**
    * Read. A file's content into a host-side blob.
    */
    read(path: string): Blob;
    /**
    * Write. Writes the blob to `path` atomically (a temporary file beside
    * it, synced, then renamed over it) with permission bits `mode`;
    * missing parent directories are made (0o700).
    */
    write(path: string, data: Blob, mode: number): Entry;
    /**
    * Write. Removes a file; false when it did not exist.
    */
    remove(path: string): boolean;
    [Symbol.dispose](): void;
  }
}
