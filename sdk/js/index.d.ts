/// <reference lib="esnext.disposable" />
/// <reference path="./types/plugin.d.ts" />
// Types of drhost-sdk (contract drhost:runbook@0.2.0) for editors and
// TypeScript: the SDK's own API in full, and the contract's shared records.
// The capability interfaces are typed from the WIT itself (types/, made by
// scripts/wit-types.mjs, checked up to date by the SDK's tests) as
// componentize-js generates them: records with camelCase fields, enums as
// kebab-case strings, u64 as bigint, option<T> as T | undefined.

/** How much a need may change. */
export type AccessLevel = 'read' | 'write' | 'admin';
export declare const Access: { readonly READ: 'read'; readonly WRITE: 'write'; readonly ADMIN: 'admin' };

/** The contract's records (types.wit). */
export interface Need { capability: string; target: string; access: AccessLevel; why: string }
export interface ParamSpec { name: string; description: string; default?: string }
export interface Manifest { id: string; version: string; description: string; params: ParamSpec[]; needs: Need[] }
export interface Param { name: string; value: string }
export interface Fact { name: string; value: string }
export interface FollowUpRecord { action: string; why: string }
export interface TableRecord { title: string; columns: string[]; rows: string[][] }
export interface OutcomeRecord { summary: string; facts: Fact[]; tables: TableRecord[]; followUps: FollowUpRecord[] }
export interface FailureRecord { summary: string; step?: string; hint?: string; facts: Fact[]; tables: TableRecord[] }
/** The contract's `error` variant, as componentize-js passes it. */
export type ErrorKind =
  | 'access-denied' | 'not-found' | 'invalid-argument' | 'unavailable'
  | 'timeout' | 'conflict' | 'failed' | 'planned';
export interface WitError { tag: ErrorKind; val: string }

/** A capability call did not succeed: one variant of the contract's `error`. */
export declare class CapabilityError extends Error {
  constructor(message: string, call?: string);
  static readonly kind: ErrorKind | 'error';
  /** The variant's WIT name. */
  readonly kind: ErrorKind;
  /** The function that threw it, e.g. `http.get`. */
  call: string | undefined;
  /** The step it escaped from, set by `step()`. */
  step: string | undefined;
  /** `kind: message`. */
  toString(): string;
}
/** The call is outside the operator's grants; the message names the grant. */
export declare class AccessDenied extends CapabilityError {}
/** The target, object or program does not exist. */
export declare class NotFound extends CapabilityError {}
/** The plugin passed something malformed. */
export declare class InvalidArgument extends CapabilityError {}
/** The service is down, refused the connection, or cannot be resolved. */
export declare class Unavailable extends CapabilityError {}
/** The call did not finish within its timeout. */
export declare class Timeout extends CapabilityError {}
/** The state changed under us. */
export declare class Conflict extends CapabilityError {}
/** The service answered with an error. */
export declare class Failed extends CapabilityError {}
/** Plan mode: the change was recorded, not made. */
export declare class Planned extends CapabilityError {}
/** The exception for a contract `error` value, or undefined when it is not one. */
export declare function fromWit(error: unknown, call?: string): CapabilityError | undefined;
/** The contract `error` value of an exception. */
export declare function toWit(error: Error): WitError;

/** Builds a manifest one parameter and need at a time. */
export declare class ManifestBuilder {
  /** Declares a parameter; no default makes it required. */
  param(name: string, description: string, defaultValue?: string): this;
  /** Declares a need, with the reason shown to the operator. */
  need(capability: string, target: string, access: AccessLevel, why: string): this;
  /** The finished manifest. */
  build(): Manifest;
}
/** Starts a manifest. */
export declare function manifest(id: string, version: string, description: string): ManifestBuilder;

/** Rows for the operator to read as one table. */
export declare class Table {
  constructor(title: string, columns: Iterable<string>);
  title: string;
  columns: string[];
  rows: string[][];
  /** Adds a row, one cell per column (each shown as `String(cell)`). */
  row(...cells: unknown[]): this;
  toWit(): TableRecord;
}
export declare function table(title: string, columns: Iterable<string>): Table;

/** What a successful run reports. */
export declare class Outcome {
  constructor(summary: string, facts?: Record<string, unknown>);
  summary: string;
  facts: Fact[];
  tables: Table[];
  followUps: FollowUpRecord[];
  fact(name: string, value: unknown): this;
  table(table: Table): this;
  /** Something the operator must still do by hand; the run ends with exit 5. */
  followUp(action: string, why: string): this;
  toWit(): OutcomeRecord;
}
export declare function outcome(summary: string, facts?: Record<string, unknown>): Outcome;

export interface FailureOptions { hint?: string; step?: string; facts?: Record<string, unknown> }
/** A failed run: throw it from `run` (or anywhere below it). */
export declare class Failure extends Error {
  constructor(summary: string, options?: FailureOptions);
  summary: string;
  hint: string | undefined;
  step: string | undefined;
  facts: Fact[];
  tables: Table[];
  fact(name: string, value: unknown): this;
  table(table: Table): this;
  toWit(): FailureRecord;
}
/** A `Failure` to throw. */
export declare function fail(summary: string, options?: { hint?: string; step?: string }): Failure;
/** `250 ms`, `2.5 s`, `1 min 30 s`, `2 h 5 min`. */
export declare function durationText(ms: number): string;

/** `250ms`, `30s`, `30`, `5m`, `1h` in milliseconds; undefined for anything else. */
export declare function parseDuration(text: string): number | undefined;
/** The operator's `--param`s, typed; a bad value throws a `Failure` naming the parameter and the fix. */
export declare class Params {
  constructor(params: Param[]);
  has(name: string): boolean;
  get(name: string): string;
  optional(name: string): string | undefined;
  values(name: string, sep?: string): string[];
  integer(name: string, options?: { minimum?: number }): number;
  flag(name: string): boolean;
  /** Milliseconds. */
  duration(name: string): number;
}

/** A step in progress. */
export declare class Step {
  readonly name: string;
  readonly finished: boolean;
  note(message: string): void;
  ok(): void;
  fail(): void;
}
/** Runs `fn` as a step: ok when it returns, failed when an exception escapes it (which then names the step). */
export declare function step<T>(name: string, fn: (step: Step) => T): T;

/** The component's exports: `export const { describe, run } = exportPlugin(describePlugin, runPlugin);` */
export declare function exportPlugin(
  describe: () => Manifest | ManifestBuilder,
  run: (params: Params) => Outcome | OutcomeRecord,
): { describe(): Manifest; run(params: Param[]): OutcomeRecord };
/** The failure a run ends with when `error` escapes it. */
export declare function failureOf(error: unknown): Failure;

export declare function debug(message: string): void;
export declare function info(message: string): void;
export declare function warn(message: string): void;
export declare function error(message: string): void;
/** Milliseconds before the run's deadline. */
export declare function timeLeftMs(): number;
/** Whether this run is a plan (`drhost run --plan`). */
export declare function isPlan(): boolean;

export interface Completed { exitCode?: number; stdout: string; stderr: string; truncated: boolean; durationMs: bigint }
export interface HttpResponse { status: number; body: string; truncated: boolean; durationMs: bigint }
export interface PortBinding { containerPort: string; hostIp: string; hostPort: string }
export interface ContainerFilter { name?: string; composeProject?: string; composeService?: string; state?: string }
/** Runs an allow-listed program (argv only). */
export declare function runProgram(program: string, args: string[], timeoutMs?: number): Completed;
/** GETs a URL on a granted host (default timeout 10 s). */
export declare function httpGet(url: string, timeoutMs?: number): HttpResponse;
/** A container filter selecting names by glob. */
export declare function containersNamed(glob: string): ContainerFilter;
/** The URL of `path` on the host port published for `containerPort`. */
export declare function publishedUrl(container: { ports: PortBinding[] }, containerPort: string, path: string): string | undefined;

/**
 * The contract's interfaces, their types generated from the WIT with its doc
 * comments (types/, by scripts/wit-types.mjs). Each call returns its `ok`
 * value and throws the typed errors above instead of the WIT's `error`.
 */
export declare const blob: typeof import('drhost:runbook/blob@0.2.0');
export declare const compose: typeof import('drhost:runbook/compose@0.2.0');
export declare const confirm: typeof import('drhost:runbook/confirm@0.2.0');
export declare const docker: typeof import('drhost:runbook/docker@0.2.0');
export declare const files: typeof import('drhost:runbook/files@0.2.0');
export declare const http: typeof import('drhost:runbook/http@0.2.0');
export declare const log: typeof import('drhost:runbook/log@0.2.0');
export declare const notify: typeof import('drhost:runbook/notify@0.2.0');
export declare const postgres: typeof import('drhost:runbook/postgres@0.2.0');
export declare const progress: typeof import('drhost:runbook/progress@0.2.0');
export declare const redis: typeof import('drhost:runbook/redis@0.2.0');
export declare const runInfo: typeof import('drhost:runbook/run-info@0.2.0');
export declare const s3: typeof import('drhost:runbook/s3@0.2.0');
export declare const secret: typeof import('drhost:runbook/secret@0.2.0');
export declare const shell: typeof import('drhost:runbook/shell@0.2.0');
export declare const vault: typeof import('drhost:runbook/vault@0.2.0');
