// The component's two exports, `describe` and `run`, built from two plain
// functions by `exportPlugin`; and what `run` turns an escaping exception
// into: a `failure` naming the step, never a trap (an exception that
// escaped componentize-js's export would trap the plugin).

import { log } from './contract.js';
import { AccessDenied, CapabilityError, Planned, Timeout, Unavailable, fromWit } from './errors.js';
import { Params } from './params.js';
import { Failure, ManifestBuilder, Outcome } from './report.js';

const HINTS = new Map([
  [AccessDenied, 'add the grant the message names to drhost.toml, then run again'],
  [Unavailable, 'check that the service is running and reachable, then run again'],
  [Timeout, 'the service may be overloaded: run again, or give the run more time'],
  [
    Planned,
    'this run is a plan (drhost run --plan): the change was recorded, not made, and the plugin ' +
      'stopped there; run without --plan to make it',
  ],
]);

// Frames of the SDK's own functions, left out of `where`.
const SDK_FRAMES = new Set(['step', 'wrapped', 'failureOf', 'where']);

/** The failure a run ends with when `error` escapes it. */
export function failureOf(error) {
  if (error instanceof Failure) {
    return error;
  }
  const step = typeof error?.step === 'string' ? error.step : undefined;
  // A contract error from a raw generated call (not through the SDK's interfaces).
  const typed = error instanceof CapabilityError ? error : fromWit(error?.payload, undefined);
  if (typed !== undefined) {
    return new Failure(String(typed), { hint: HINTS.get(typed.constructor), step });
  }
  // A bug in the plugin (TypeError, SyntaxError, …): where it was thrown goes
  // to the run's log (the whole stack at debug level), the failure says what
  // and in which step.
  const name = error instanceof Error ? error.name : 'thrown value';
  const text = error instanceof Error ? error.message : String(error);
  log.write('error', `${name} thrown ${where(error)}`);
  if (error instanceof Error && error.stack) {
    log.write('debug', `${name}: ${text}\n${error.stack}`.trimEnd());
  }
  return new Failure(text ? `${name}: ${text}` : name, {
    hint: "an error in the plugin's own code, not in a service: its stack is in the run's log; tell the plugin's author",
    step,
  });
}

/**
 * Where the plugin's own code threw `error`, innermost first: `in scanLogs,
 * from diagnose` (the SDK's frames left out, nothing past the export).
 * Function names only: the plugin runs as one bundle, whose line numbers are
 * not the source's. Reads SpiderMonkey's stack (`fn@file:line:col`, in the
 * component) and V8's (`    at fn (file:line:col)`, under node's tests).
 */
export function where(error) {
  const frames = [];
  for (const line of String(error?.stack ?? '').split('\n')) {
    const match = /^([^@\s]*)@(.*)$/.exec(line) ?? /^\s+at (?:new )?(\S+)(?: \[as \S+\])? \((.*)\)$/.exec(line);
    if (match === null || match[2] === '<anonymous>') {
      continue; // the message, or the engine's own code
    }
    const fn = match[1].split('.').at(-1).replace(/\/<$/, '');
    if (fn === 'exportedRun') {
      break;
    }
    // An arrow function inside `fn` (`fn/<`) is named once, as `fn`.
    if (fn && !SDK_FRAMES.has(fn) && fn !== '<anonymous>' && fn !== frames.at(-1)) {
      frames.push(fn);
    }
  }
  return frames.length > 0 ? `in ${frames.join(', from ')}` : 'in the JavaScript runtime';
}

/**
 * The component's exports: in the app module,
 * `export const { describe, run } = exportPlugin(describePlugin, runPlugin);`
 *
 * `describe()` returns the manifest (or its builder); `run(params)` returns
 * an `Outcome` or throws: a `Failure`, a `CapabilityError`, or anything
 * else, each ending the run as a `failure` naming the step it escaped from.
 */
export function exportPlugin(describe, run) {
  return {
    describe() {
      const manifest = describe();
      return manifest instanceof ManifestBuilder ? manifest.build() : manifest;
    },
    run: function exportedRun(params) {
      let result;
      try {
        result = run(new Params(params));
      } catch (error) {
        // componentize-js lowers a thrown value as the `err` of `run`'s result.
        throw failureOf(error).toWit();
      }
      return result instanceof Outcome ? result.toWit() : result;
    },
  };
}
