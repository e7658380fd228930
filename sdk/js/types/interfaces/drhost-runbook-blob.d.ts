// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/blob@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  
  export class Blob implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Size in bytes.
    */
    size(): bigint;
    /**
    * Read. SHA-256 of the content, lowercase hex.
    */
    sha256(): string;
    /**
    * Read. Up to `len` bytes from `offset` (at most 1 MiB per call).
    */
    read(offset: bigint, len: number): Uint8Array;
    /**
    * Write. A blob from bytes the plugin already has (at most 16 MiB).
    */
    static fromBytes(data: Uint8Array): Blob;
    [Symbol.dispose](): void;
  }
}
