// One stubbed interface of the contract (its name is this module's query):
// the functions and the resource the SDK itself uses, each reporting to the
// recorder. Nothing here talks to a host.
import { call } from './recorder.js';

const iface = new URL(import.meta.url).search.slice(1);
const stub = (name) => (...args) => call(`${iface}.${name}`, args);

export const write = stub('write');
export const get = stub('get');
export const run = stub('run');
export const mode = stub('mode');
export const timeLeftMs = stub('time-left-ms');

/** progress's `step` resource. */
export class Step {
  constructor(name) {
    call(`${iface}.step`, [name]);
  }

  note(message) {
    call(`${iface}.note`, [message]);
  }

  finish(ok) {
    call(`${iface}.finish`, [ok]);
  }
}
