// What a plugin says about itself and about its run: the manifest builder,
// the outcome of a run that worked, the failure of one that did not, and the
// tables both can carry. Each converts to the contract's record with
// `toWit()`. Imports nothing from the contract.

/** How much a need may change: the contract's `access` enum. */
export const Access = Object.freeze({ READ: 'read', WRITE: 'write', ADMIN: 'admin' });

/** Builds a manifest one parameter and need at a time (see `manifest`). */
export class ManifestBuilder {
  constructor(id, version, description) {
    this.manifest = { id, version, description, params: [], needs: [] };
  }

  /** Declares a parameter; no default makes it required. */
  param(name, description, defaultValue) {
    this.manifest.params.push({ name, description, default: defaultValue ?? undefined });
    return this;
  }

  /** Declares a need (`capability`, `target`, `Access.READ`…), with the reason shown to the operator. */
  need(capability, target, access, why) {
    if (!Object.values(Access).includes(access)) {
      throw new TypeError(`need ${capability} ${target}: access must be Access.READ, WRITE or ADMIN, not ${access}`);
    }
    this.manifest.needs.push({ capability, target, access, why });
    return this;
  }

  /** The finished manifest. */
  build() {
    return this.manifest;
  }
}

/** Starts a manifest: `manifest('hello', '0.1.0', 'Says hello').param(…).need(…)`. */
export function manifest(id, version, description) {
  return new ManifestBuilder(id, version, description);
}

/** Rows for the operator to read as one table; add rows with `row`. */
export class Table {
  constructor(title, columns) {
    this.title = title;
    this.columns = [...columns];
    this.rows = [];
  }

  /** Adds a row, one cell per column (each shown as `String(cell)`). */
  row(...cells) {
    if (cells.length !== this.columns.length) {
      throw new TypeError(`table '${this.title}': a row of ${cells.length} cells for ${this.columns.length} columns`);
    }
    this.rows.push(cells.map(String));
    return this;
  }

  /** The contract's `table`. */
  toWit() {
    return { title: this.title, columns: [...this.columns], rows: this.rows.map((r) => [...r]) };
  }
}

/** A table with a title and column names. */
export function table(title, columns) {
  return new Table(title, columns);
}

function factsOf(facts) {
  return Object.entries(facts ?? {}).map(([name, value]) => ({ name, value: String(value) }));
}

/** What a successful run reports: a summary, facts, tables, follow-ups. */
export class Outcome {
  constructor(summary, facts) {
    this.summary = summary;
    this.facts = factsOf(facts);
    this.tables = [];
    this.followUps = [];
  }

  /** Adds `name = String(value)`. */
  fact(name, value) {
    this.facts.push({ name, value: String(value) });
    return this;
  }

  /** Adds a table for the operator. */
  table(table) {
    this.tables.push(table);
    return this;
  }

  /**
   * Adds something the operator must still do by hand, and why; the run then
   * ends "recovered, follow-up required" (exit 5).
   */
  followUp(action, why) {
    this.followUps.push({ action, why });
    return this;
  }

  /** The contract's `outcome`. */
  toWit() {
    return {
      summary: this.summary,
      facts: [...this.facts],
      tables: this.tables.map((t) => t.toWit()),
      followUps: [...this.followUps],
    };
  }
}

/** A successful outcome: `return outcome('said hello').fact('stdout', said)`. */
export function outcome(summary, facts) {
  return new Outcome(summary, facts);
}

/**
 * A failed run: throw it from `run` (or anywhere below it). Add what was seen
 * with `fact` and `table`. The step it escapes from is filled in when `step`
 * is not given.
 */
export class Failure extends Error {
  constructor(summary, { hint, step, facts } = {}) {
    super(summary);
    this.name = 'Failure';
    this.summary = summary;
    this.hint = hint;
    this.step = step;
    this.facts = factsOf(facts);
    this.tables = [];
  }

  /** Adds what was measured or seen before the failure. */
  fact(name, value) {
    this.facts.push({ name, value: String(value) });
    return this;
  }

  /** Adds a table for the operator (e.g. the checks that failed). */
  table(table) {
    this.tables.push(table);
    return this;
  }

  /** The contract's `failure`. */
  toWit() {
    return {
      summary: this.summary,
      step: this.step ?? undefined,
      hint: this.hint ?? undefined,
      facts: [...this.facts],
      tables: this.tables.map((t) => t.toWit()),
    };
  }
}

/** A `Failure` to throw: `throw fail('no URL to probe', { hint: 'pass --param urls=…' })`. */
export function fail(summary, { hint, step } = {}) {
  return new Failure(summary, { hint, step });
}

/** A duration as an operator reads it: `250 ms`, `2.5 s`, `1 min 30 s`, `2 h 5 min`. */
export function durationText(ms) {
  const whole = Math.round(ms);
  if (whole < 1000) {
    return `${whole} ms`;
  }
  if (whole < 60_000) {
    const tenths = Math.floor((whole + 50) / 100);
    return tenths % 10 === 0 ? `${tenths / 10} s` : `${Math.floor(tenths / 10)}.${tenths % 10} s`;
  }
  const secs = Math.floor((whole + 500) / 1000);
  const [h, m, s] = [Math.floor(secs / 3600), Math.floor((secs % 3600) / 60), secs % 60];
  if (h === 0) {
    return s === 0 ? `${m} min` : `${m} min ${s} s`;
  }
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
