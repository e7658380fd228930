// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./interfaces/drhost-runbook-blob.d.ts" />
/// <reference path="./interfaces/drhost-runbook-compose.d.ts" />
/// <reference path="./interfaces/drhost-runbook-confirm.d.ts" />
/// <reference path="./interfaces/drhost-runbook-docker.d.ts" />
/// <reference path="./interfaces/drhost-runbook-files.d.ts" />
/// <reference path="./interfaces/drhost-runbook-http.d.ts" />
/// <reference path="./interfaces/drhost-runbook-log.d.ts" />
/// <reference path="./interfaces/drhost-runbook-notify.d.ts" />
/// <reference path="./interfaces/drhost-runbook-postgres.d.ts" />
/// <reference path="./interfaces/drhost-runbook-progress.d.ts" />
/// <reference path="./interfaces/drhost-runbook-redis.d.ts" />
/// <reference path="./interfaces/drhost-runbook-run-info.d.ts" />
/// <reference path="./interfaces/drhost-runbook-s3.d.ts" />
/// <reference path="./interfaces/drhost-runbook-secret.d.ts" />
/// <reference path="./interfaces/drhost-runbook-shell.d.ts" />
/// <reference path="./interfaces/drhost-runbook-types.d.ts" />
/// <reference path="./interfaces/drhost-runbook-vault.d.ts" />
declare module 'drhost:runbook/plugin@0.2.0' {
  export type Manifest = import('drhost:runbook/types@0.2.0').Manifest;
  export type Param = import('drhost:runbook/types@0.2.0').Param;
  export type Outcome = import('drhost:runbook/types@0.2.0').Outcome;
  export type Failure = import('drhost:runbook/types@0.2.0').Failure;
  export type * as DrhostRunbookBlob020 from 'drhost:runbook/blob@0.2.0'; // import drhost:runbook/blob@0.2.0
  export type * as DrhostRunbookCompose020 from 'drhost:runbook/compose@0.2.0'; // import drhost:runbook/compose@0.2.0
  export type * as DrhostRunbookConfirm020 from 'drhost:runbook/confirm@0.2.0'; // import drhost:runbook/confirm@0.2.0
  export type * as DrhostRunbookDocker020 from 'drhost:runbook/docker@0.2.0'; // import drhost:runbook/docker@0.2.0
  export type * as DrhostRunbookFiles020 from 'drhost:runbook/files@0.2.0'; // import drhost:runbook/files@0.2.0
  export type * as DrhostRunbookHttp020 from 'drhost:runbook/http@0.2.0'; // import drhost:runbook/http@0.2.0
  export type * as DrhostRunbookLog020 from 'drhost:runbook/log@0.2.0'; // import drhost:runbook/log@0.2.0
  export type * as DrhostRunbookNotify020 from 'drhost:runbook/notify@0.2.0'; // import drhost:runbook/notify@0.2.0
  export type * as DrhostRunbookPostgres020 from 'drhost:runbook/postgres@0.2.0'; // import drhost:runbook/postgres@0.2.0
  export type * as DrhostRunbookProgress020 from 'drhost:runbook/progress@0.2.0'; // import drhost:runbook/progress@0.2.0
  export type * as DrhostRunbookRedis020 from 'drhost:runbook/redis@0.2.0'; // import drhost:runbook/redis@0.2.0
  export type * as DrhostRunbookRunInfo020 from 'drhost:runbook/run-info@0.2.0'; // import drhost:runbook/run-info@0.2.0
  export type * as DrhostRunbookS3020 from 'drhost:runbook/s3@0.2.0'; // import drhost:runbook/s3@0.2.0
  export type * as DrhostRunbookSecret020 from 'drhost:runbook/secret@0.2.0'; // import drhost:runbook/secret@0.2.0
  export type * as DrhostRunbookShell020 from 'drhost:runbook/shell@0.2.0'; // import drhost:runbook/shell@0.2.0
  export type * as DrhostRunbookTypes020 from 'drhost:runbook/types@0.2.0'; // import drhost:runbook/types@0.2.0
  export type * as DrhostRunbookVault020 from 'drhost:runbook/vault@0.2.0'; // import drhost:runbook/vault@0.2.0
  /**
  * Who the plugin is, what it takes, and what it needs, with reasons.
  * Called with no grants at all.
  */
  export function describe(): Manifest;
  /**
  * Runs the scenario with the operator's parameters (defaults applied).
  */
  export function run(params: Array<Param>): Outcome;
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
