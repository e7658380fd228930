// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-blob.d.ts" />
/// <reference path="./drhost-runbook-secret.d.ts" />
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/s3@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  export type Blob = import('drhost:runbook/blob@0.2.0').Blob;
  export type Secret = import('drhost:runbook/secret@0.2.0').Secret;
  /**
   * One object's listing entry.
   */
  export interface ObjectInfo {
    key: string,
    size: bigint,
    /**
     * RFC 3339, UTC; empty when the service did not say.
     */
    lastModified: string,
    etag: string,
  }
  /**
   * What `head` returns: the entry and the object's user metadata.
   */
  export interface ObjectHead {
    info: ObjectInfo,
    metadata: Array<[string, string]>,
  }
  
  export class Bucket implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Opens the target `label` (`[targets.s3.<label>]`).
    */
    static open(label: string): Bucket;
    /**
    * Read. Objects whose key starts with `prefix`.
    */
    list(prefix: string): Array<ObjectInfo>;
    /**
    * Read. One object's entry and metadata.
    */
    head(key: string): ObjectHead;
    /**
    * Read. Downloads `key` into a host-side blob, streamed to a file; the
    * guest gets a handle, not the bytes. The download is checked against
    * the object's size and against `expect-sha256` (lowercase hex) when
    * given, else against the object's `sha256` metadata when present; a
    * mismatch is `conflict` and keeps nothing.
    */
    get(key: string, expectSha256: string | undefined): Blob;
    /**
    * Read. A small object (at most 64 KiB) read into a host-held secret,
    * e.g. an unseal key or a root token kept in the backup bucket: the
    * value never enters the plugin. Checked like `get`.
    */
    getSecret(key: string, expectSha256: string | undefined): Secret;
    /**
    * Write. Uploads the blob (streamed from its host-side file) as `key`
    * with user metadata; large blobs go up as a multipart upload.
    */
    put(key: string, data: Blob, metadata: Array<[string, string]>): ObjectInfo;
    [Symbol.dispose](): void;
  }
}
