// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/secret@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  /**
   * One piece of a composed secret.
   */
  export type ComposePart = ComposePartText | ComposePartSecret | ComposePartUrlEncoded;
  /**
   * Plain text, as is.
   */
  export interface ComposePartText {
    tag: 'text',
    val: string,
  }
  /**
   * A secret's value, as is.
   */
  export interface ComposePartSecret {
    tag: 'secret',
    val: Secret,
  }
  /**
   * A secret's value percent-encoded for a URL's user or password part.
   */
  export interface ComposePartUrlEncoded {
    tag: 'url-encoded',
    val: Secret,
  }
  
  export class Secret implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Where it came from, e.g. `secret/toolboxai/postgres#password`,
    * `operator:vault-root-token` or `composed`; never the value.
    */
    origin(): string;
    /**
    * Reveal (the `reveal` grant on where it came from). The value, in
    * plugin memory. The journal records that it was revealed, not what.
    */
    reveal(): string;
    /**
    * Read. A new secret made of plain text and secrets, e.g. a connection
    * URL with a password in it, without the plugin seeing it.
    */
    static compose(parts: Array<ComposePart>): Secret;
    /**
    * Read. The operator's secret `name` (`[secrets] name = "env:VAR"` or
    * `"file:PATH"` in drhost.toml), granted by `[plugins.<id>] secrets`.
    */
    static operator(name: string): Secret;
    [Symbol.dispose](): void;
  }
}
