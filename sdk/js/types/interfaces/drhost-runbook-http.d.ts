// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/http@0.2.0' {
  /**
   * Read. GET `url` (http or https) on a granted host[:port]; redirects are
   * not followed. Timeout defaults to 10 s. Any status is a response; no
   * answer is `unavailable` or `timeout`.
   */
  export function get(url: string, timeoutMs: number | undefined): Response;
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  export interface Response {
    status: number,
    /**
     * The body as UTF-8 (invalid bytes replaced), capped at 64 KiB.
     */
    body: string,
    truncated: boolean,
    durationMs: bigint,
  }
}
