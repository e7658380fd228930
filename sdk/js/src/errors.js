// Capability errors as JavaScript exceptions.
//
// componentize-js throws a `ComponentError` whose `payload` is the contract's
// `error` variant (`{ tag: 'access-denied', val: '…' }`) when a capability
// call returns `err`. This module gives each variant of `types.error`
// (wit/0.2.0/types.wit) its own exception class with a `kind`, and wraps the
// functions and resource methods of the generated interfaces so that they
// throw those classes instead. It adds no call of its own and changes no
// argument: the contract stays the generated one. It imports nothing from
// the contract, so its logic runs under node's test runner too.

/** A capability call did not succeed: one variant of the contract's `error`. */
export class CapabilityError extends Error {
  /** The variant's WIT name (`access-denied`, `timeout`, …). */
  static kind = 'error';

  /**
   * @param {string} message the host's text
   * @param {string | undefined} call the function that threw it (`http.get`)
   */
  constructor(message, call) {
    super(message);
    this.name = new.target.name;
    /** The host's text. */
    this.message = message;
    /** The function that threw it, e.g. `http.get`. */
    this.call = call;
    /** The step it escaped from, set by `step()`. */
    this.step = undefined;
  }

  /** The variant's WIT name. */
  get kind() {
    return this.constructor.kind;
  }

  /** `kind: message`, the way the operator should read it. */
  toString() {
    return `${this.kind}: ${this.message}`;
  }
}

/** The call is outside the operator's grants; the message names the grant that would allow it. */
export class AccessDenied extends CapabilityError {
  static kind = 'access-denied';
}

/** The target, object or program does not exist. */
export class NotFound extends CapabilityError {
  static kind = 'not-found';
}

/** The plugin passed something malformed. */
export class InvalidArgument extends CapabilityError {
  static kind = 'invalid-argument';
}

/** The service is down, refused the connection, or cannot be resolved. */
export class Unavailable extends CapabilityError {
  static kind = 'unavailable';
}

/** The call did not finish within its timeout. */
export class Timeout extends CapabilityError {
  static kind = 'timeout';
}

/** The state changed under us (e.g. the object already exists). */
export class Conflict extends CapabilityError {
  static kind = 'conflict';
}

/** The service answered with an error. */
export class Failed extends CapabilityError {
  static kind = 'failed';
}

/**
 * Plan mode (`drhost run --plan`): the change was recorded, not made. Treat
 * it as done and skip waits that only make sense after a real change.
 */
export class Planned extends CapabilityError {
  static kind = 'planned';
}

/**
 * One exception class per variant of `types.error`, by WIT name; a variant
 * missing here is a contract change this SDK does not know yet.
 */
export const VARIANTS = Object.freeze({
  'access-denied': AccessDenied,
  'not-found': NotFound,
  'invalid-argument': InvalidArgument,
  unavailable: Unavailable,
  timeout: Timeout,
  conflict: Conflict,
  failed: Failed,
  planned: Planned,
});

/**
 * The exception for a contract `error` value (`{ tag, val }`), or undefined
 * when `error` is not one.
 */
export function fromWit(error, call) {
  const variant = error && typeof error === 'object' ? VARIANTS[error.tag] : undefined;
  return variant === undefined ? undefined : new variant(String(error.val), call);
}

/** The contract `error` value of an exception (e.g. to hand one on). */
export function toWit(error) {
  return { tag: error instanceof CapabilityError ? error.kind : 'failed', val: String(error.message) };
}

/** `fn`, throwing the `CapabilityError` of a contract error it throws. */
function typed(fn, call) {
  if (fn.drhostTyped) {
    return fn;
  }
  const wrapped = function (...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      const error = e && typeof e === 'object' ? fromWit(e.payload, call) : undefined;
      if (error === undefined) {
        throw e;
      }
      throw error;
    }
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  wrapped.drhostTyped = true;
  return wrapped;
}

/**
 * A generated interface (`import * as http from 'drhost:runbook/http@0.2.0'`)
 * whose functions throw typed errors: a new object with each function
 * wrapped; the static and instance methods of its resource classes are
 * wrapped in place (once), so values those functions return throw typed
 * errors too.
 */
export function typeErrors(generated, iface) {
  const out = {};
  for (const [name, value] of Object.entries(generated)) {
    if (typeof value !== 'function') {
      out[name] = value;
    } else if (isClass(value)) {
      typeMethods(value, iface);
      out[name] = value;
    } else {
      out[name] = typed(value, `${iface}.${kebab(name)}`);
    }
  }
  return Object.freeze(out);
}

function isClass(fn) {
  return typeof fn.prototype === 'object' && Object.getOwnPropertyNames(fn.prototype).length > 1;
}

function typeMethods(cls, iface) {
  for (const owner of [cls, cls.prototype]) {
    for (const method of Object.getOwnPropertyNames(owner)) {
      const descriptor = Object.getOwnPropertyDescriptor(owner, method);
      if (['constructor', 'prototype', 'length', 'name'].includes(method) || typeof descriptor.value !== 'function') {
        continue;
      }
      owner[method] = typed(descriptor.value, `${iface}.${kebab(method)}`);
    }
  }
}

/** `inspectContainer` → `inspect-container`: the call's name as the journal spells it. */
export function kebab(name) {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
