// The operator's parameters, typed: text, numbers, flags, lists and
// durations. A value that does not parse becomes a `Failure` naming the
// parameter and the fix, so `params.duration('wait')` needs no error
// handling in a plugin. Imports nothing from the contract.

import { Failure } from './report.js';

const DURATION = /^(\d+)(ms|s|m|min|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const FLAGS = { true: true, yes: true, on: true, 1: true, false: false, no: false, off: false, 0: false };

/** `250ms`, `30s`, `30` (seconds), `5m`, `1h` in milliseconds; undefined for anything else. */
export function parseDuration(text) {
  const match = DURATION.exec(text.trim());
  if (match === null) {
    return undefined;
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 's'];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The operator's `--param`s, with the plugin's defaults applied by the host. */
export class Params {
  /** @param {{name: string, value: string}[]} params the contract's `list<param>` */
  constructor(params) {
    this.byName = new Map(params.map((p) => [p.name, p.value]));
  }

  /** Whether the host passed `name`. */
  has(name) {
    return this.byName.has(name);
  }

  /** The value of `name`; a `Failure` when the plugin did not declare it. */
  get(name) {
    if (!this.byName.has(name)) {
      throw new Failure(`this plugin reads a parameter \`${name}\` it does not declare, so drhost cannot pass it`, {
        hint: "a bug in the plugin: tell its author (`drhost inspect` lists the parameters it declares)",
      });
    }
    return this.byName.get(name);
  }

  /** The value of `name`, or undefined when it is empty. */
  optional(name) {
    return this.get(name) || undefined;
  }

  /** The value of `name` split at `sep`, each item trimmed, empty ones dropped. */
  values(name, sep = ',') {
    return this.get(name)
      .split(sep)
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  /** The value of `name` as a whole number (at least `minimum`, when given). */
  integer(name, { minimum } = {}) {
    const text = this.get(name);
    const value = /^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : undefined;
    if (value === undefined || !Number.isSafeInteger(value) || (minimum !== undefined && value < minimum)) {
      const what = minimum === undefined ? 'a whole number' : `a whole number of ${minimum} or more`;
      throw new Failure(`--param ${name}=${text}: not ${what}`, { hint: `pass --param ${name}=N with N ${what}` });
    }
    return value;
  }

  /** The value of `name` as a yes/no: true/false, yes/no, on/off, 1/0. */
  flag(name) {
    const text = this.get(name);
    const value = FLAGS[text.trim().toLowerCase()];
    if (value === undefined) {
      throw new Failure(`--param ${name}=${text}: not true or false`, { hint: `pass --param ${name}=true or false` });
    }
    return value;
  }

  /** The value of `name` as a duration in milliseconds: `250ms`, `30s` (or a bare number of seconds), `5m`, `1h`. */
  duration(name) {
    const text = this.get(name);
    const value = parseDuration(text);
    if (value === undefined) {
      throw new Failure(`--param ${name}=${text}: not a duration like 500ms, 30s, 5m or 1h`, {
        hint: `pass --param ${name}=30s (ms, s, m or h)`,
      });
    }
    return value;
  }
}
