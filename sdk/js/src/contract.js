// The contract's interfaces (drhost:runbook@0.2.0), as componentize-js
// generates them, each wrapped once so that its calls throw the SDK's typed
// errors (errors.js). The one module that imports every interface: the rest
// of the SDK imports them from here.

import * as blobWit from 'drhost:runbook/blob@0.2.0';
import * as composeWit from 'drhost:runbook/compose@0.2.0';
import * as confirmWit from 'drhost:runbook/confirm@0.2.0';
import * as dockerWit from 'drhost:runbook/docker@0.2.0';
import * as filesWit from 'drhost:runbook/files@0.2.0';
import * as httpWit from 'drhost:runbook/http@0.2.0';
import * as logWit from 'drhost:runbook/log@0.2.0';
import * as notifyWit from 'drhost:runbook/notify@0.2.0';
import * as postgresWit from 'drhost:runbook/postgres@0.2.0';
import * as progressWit from 'drhost:runbook/progress@0.2.0';
import * as redisWit from 'drhost:runbook/redis@0.2.0';
import * as runInfoWit from 'drhost:runbook/run-info@0.2.0';
import * as s3Wit from 'drhost:runbook/s3@0.2.0';
import * as secretWit from 'drhost:runbook/secret@0.2.0';
import * as shellWit from 'drhost:runbook/shell@0.2.0';
import * as vaultWit from 'drhost:runbook/vault@0.2.0';

import { typeErrors } from './errors.js';

export const blob = typeErrors(blobWit, 'blob');
export const compose = typeErrors(composeWit, 'compose');
export const confirm = typeErrors(confirmWit, 'confirm');
export const docker = typeErrors(dockerWit, 'docker');
export const files = typeErrors(filesWit, 'files');
export const http = typeErrors(httpWit, 'http');
export const log = typeErrors(logWit, 'log');
export const notify = typeErrors(notifyWit, 'notify');
export const postgres = typeErrors(postgresWit, 'postgres');
export const progress = typeErrors(progressWit, 'progress');
export const redis = typeErrors(redisWit, 'redis');
export const runInfo = typeErrors(runInfoWit, 'run-info');
export const s3 = typeErrors(s3Wit, 's3');
export const secret = typeErrors(secretWit, 'secret');
export const shell = typeErrors(shellWit, 'shell');
export const vault = typeErrors(vaultWit, 'vault');
