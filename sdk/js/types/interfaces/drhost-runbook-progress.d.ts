// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
declare module 'drhost:runbook/progress@0.2.0' {
  
  export class Step implements Disposable {
    /**
    * Starts a step named for what it does ("restart backend2").
    */
    constructor(name: string)
    /**
    * Adds a line of detail to the step.
    */
    note(message: string): void;
    /**
    * Ends the step; `ok` says whether it achieved what it set out to.
    */
    finish(ok: boolean): void;
    [Symbol.dispose](): void;
  }
}
