// drhost-sdk: write drhost recovery plugins in JavaScript (contract
// drhost:runbook@0.2.0, built with componentize-js by sdk/js/build.sh).
//
//     import { Access, exportPlugin, manifest, outcome, runProgram, step } from 'drhost-sdk';
//
//     function describePlugin() {
//       return manifest('hello', '0.1.0', 'Says hello')
//         .param('greeting', 'what to say', 'hello')
//         .need('shell', 'echo', Access.WRITE, 'prints the greeting');
//     }
//
//     function runPlugin(params) {
//       const said = step('say hello', (s) => {
//         const out = runProgram('echo', [params.get('greeting')]).stdout.trim();
//         s.note(out);
//         return out;
//       });
//       return outcome('said hello').fact('stdout', said);
//     }
//
//     export const { describe, run } = exportPlugin(describePlugin, runPlugin);
//
// Every capability (`http`, `docker`, `postgres`, …, the generated
// interfaces, re-exported here) throws a `CapabilityError` subclass
// (`AccessDenied`, `Unavailable`, …, `kind` = the WIT name). An exception that
// escapes `step(name, fn)` ends that step failed; one that escapes `run` ends
// the run as a `failure` naming the step.

export {
  blob,
  compose,
  confirm,
  docker,
  files,
  http,
  log,
  notify,
  postgres,
  progress,
  redis,
  runInfo,
  s3,
  secret,
  shell,
  vault,
} from './contract.js';
export {
  AccessDenied,
  CapabilityError,
  Conflict,
  Failed,
  InvalidArgument,
  NotFound,
  Planned,
  Timeout,
  Unavailable,
  fromWit,
  toWit,
} from './errors.js';
export {
  containersNamed,
  debug,
  error,
  httpGet,
  info,
  isPlan,
  publishedUrl,
  runProgram,
  timeLeftMs,
  warn,
} from './helpers.js';
export { Params, parseDuration } from './params.js';
export { exportPlugin, failureOf } from './plugin.js';
export { Access, Failure, ManifestBuilder, Outcome, Table, durationText, fail, manifest, outcome, table } from './report.js';
export { Step, step } from './steps.js';
