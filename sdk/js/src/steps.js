// Runbook steps: the CLI draws them, the journal times them.
//
//     step('restart backend2', (s) => {
//       docker.restartContainer('toolboxai-backend2', undefined);
//       s.note('restarted');
//     });
//
// The step ends ok when the function returns, failed when an exception
// escapes it (which then carries the step's name into the run's failure),
// or earlier by `s.ok()` / `s.fail()`. The contract is blocking, so a step's
// function is synchronous: it returns the function's value.

import { progress } from './contract.js';

/** A step in progress (see `step`). */
export class Step {
  constructor(name) {
    this.name = name;
    this.handle = new progress.Step(name);
    this.finished = false;
  }

  /** Adds a line of detail to the step. */
  note(message) {
    this.handle.note(String(message));
  }

  /** Ends the step as achieved (its function's return then changes nothing). */
  ok() {
    this.finish(true);
  }

  /** Ends the step as failed, without an exception (e.g. a check that found a fault). */
  fail() {
    this.finish(false);
  }

  finish(ok) {
    if (!this.finished) {
      this.finished = true;
      this.handle.finish(ok);
    }
  }
}

/**
 * Runs `fn(s)` as a step named for what it does (`'restart backend2'`) and
 * returns what it returns; an exception that escapes `fn` ends the step
 * failed and goes on, naming the step.
 */
export function step(name, fn) {
  const s = new Step(name);
  let value;
  try {
    value = fn(s);
  } catch (e) {
    s.finish(false);
    if (e !== null && typeof e === 'object' && e.step === undefined) {
      try {
        e.step = name;
      } catch {
        // a frozen value: the failure names no step
      }
    }
    throw e;
  }
  if (value !== null && typeof value === 'object' && typeof value.then === 'function') {
    s.finish(false);
    throw new TypeError(`step '${name}': its function returned a promise; capability calls are blocking, so use a plain function`);
  }
  s.finish(true);
  return value;
}
