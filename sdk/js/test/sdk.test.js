// Unit tests of drhost-sdk's logic under node's test runner, with the
// contract's interfaces stubbed (contract-stub.js): `npm test` in sdk/js.
// tests/tests/js_sdk.rs runs them; the plugins themselves are tested through
// drhost against the lab there too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { beforeEach, describe, test } from 'node:test';

import * as sdk from '../src/index.js';
import { VARIANTS } from '../src/errors.js';
import { answers, calls, reset } from './recorder.js';

const params = (values) => new sdk.Params(Object.entries(values).map(([name, value]) => ({ name, value })));

/** A contract error as componentize-js throws it from an import. */
class ComponentError extends Error {
  constructor(tag, val) {
    super(val);
    this.payload = { tag, val };
  }
}

beforeEach(reset);

describe('durations', () => {
  test('every unit parses and the rest is refused', () => {
    for (const [text, ms] of [['250ms', 250], ['30', 30_000], ['30s', 30_000], ['5m', 300_000], ['5min', 300_000], ['1h', 3_600_000]]) {
      assert.equal(sdk.parseDuration(text), ms, text);
    }
    for (const bad of ['', 's', '1.5s', '-1s', '10x', '99999999999999999999h']) {
      assert.equal(sdk.parseDuration(bad), undefined, bad);
    }
  });

  test('durations read like a person writes them', () => {
    for (const [ms, text] of [[0, '0 ms'], [250, '250 ms'], [1000, '1 s'], [2500, '2.5 s'], [59_990, '60 s'], [90_000, '1 min 30 s'], [900_000, '15 min'], [3_600_000, '1 h'], [7_500_000, '2 h 5 min']]) {
      assert.equal(sdk.durationText(ms), text, String(ms));
    }
  });
});

describe('typed params', () => {
  test('values are typed', () => {
    const p = params({ wait: '30s', retries: '3', force: 'yes', urls: ' a, ,b ', empty: '' });
    assert.equal(p.duration('wait'), 30_000);
    assert.equal(p.integer('retries', { minimum: 1 }), 3);
    assert.equal(p.flag('force'), true);
    assert.deepEqual(p.values('urls'), ['a', 'b']);
    assert.equal(p.optional('empty'), undefined);
  });

  test('a bad value is a failure naming the parameter and the fix', () => {
    const p = params({ wait: 'soon', retries: '0', force: 'maybe', lines: '12abc' });
    const cases = [
      [() => p.duration('wait'), '--param wait=soon: not a duration like 500ms, 30s, 5m or 1h', 'pass --param wait=30s (ms, s, m or h)'],
      [() => p.integer('retries', { minimum: 1 }), '--param retries=0: not a whole number of 1 or more', 'pass --param retries=N with N a whole number of 1 or more'],
      [() => p.integer('lines'), '--param lines=12abc: not a whole number', 'pass --param lines=N with N a whole number'],
      [() => p.flag('force'), '--param force=maybe: not true or false', 'pass --param force=true or false'],
    ];
    for (const [call, summary, hint] of cases) {
      assert.throws(call, (e) => e instanceof sdk.Failure && e.summary === summary && e.hint === hint, summary);
    }
    assert.throws(() => p.get('undeclared'), /reads a parameter `undeclared` it does not declare/);
  });
});

describe('capability errors', () => {
  test('one class per variant of the contract error, named as in the WIT', () => {
    const wit = readFileSync(new URL('../../../wit/0.2.0/types.wit', import.meta.url), 'utf8');
    const body = wit.slice(wit.indexOf('variant error {'), wit.indexOf('}', wit.indexOf('variant error {')));
    const variants = [...body.matchAll(/^\s*([a-z-]+)\(string\),/gm)].map((m) => m[1]);
    assert.equal(variants.length, 8);
    assert.deepEqual(Object.keys(VARIANTS).sort(), [...variants].sort());
    for (const tag of variants) {
      const error = sdk.fromWit({ tag, val: 'the text' }, 'http.get');
      assert.ok(error instanceof sdk.CapabilityError && error instanceof VARIANTS[tag], tag);
      assert.equal(error.kind, tag);
      assert.equal(String(error), `${tag}: the text`);
      assert.equal(error.call, 'http.get');
      assert.deepEqual(sdk.toWit(error), { tag, val: 'the text' });
    }
    assert.equal(sdk.fromWit({ tag: 'no-such-variant', val: '' }), undefined);
  });

  test('a wrapped call throws the typed error and lets any other exception through', () => {
    answers['http.get'] = () => {
      throw new ComponentError('unavailable', 'connection refused');
    };
    assert.throws(() => sdk.httpGet('http://127.0.0.1:1/'), (e) =>
      e instanceof sdk.Unavailable && e.message === 'connection refused' && e.call === 'http.get');
    answers['http.get'] = () => {
      throw new RangeError('not a contract error');
    };
    assert.throws(() => sdk.http.get('http://127.0.0.1:1/', undefined), RangeError);
    assert.deepEqual(calls.map((c) => c[0]), ['http.get', 'http.get']);
  });
});

describe('steps', () => {
  test('a step ends ok when its function returns, and returns its value', () => {
    assert.equal(sdk.step('check', (s) => { s.note('fine'); return 7; }), 7);
    assert.deepEqual(calls, [['progress.step', 'check'], ['progress.note', 'fine'], ['progress.finish', true]]);
  });

  test('an exception ends the step failed, names it, and goes on', () => {
    const thrown = new TypeError('boom');
    assert.throws(() => sdk.step('inner', () => { throw thrown; }), (e) => e === thrown && e.step === 'inner');
    assert.deepEqual(calls.at(-1), ['progress.finish', false]);
  });

  test('fail() ends it once, failed', () => {
    sdk.step('found a fault', (s) => s.fail());
    assert.deepEqual(calls.filter((c) => c[0] === 'progress.finish'), [['progress.finish', false]]);
  });
});

describe('exportPlugin', () => {
  const manifest = () => sdk.manifest('t', '0.1.0', 'a test').param('wait', 'how long', '30s').need('http', '127.0.0.1:*', sdk.Access.READ, 'probes');

  test('describe builds the manifest; run returns the outcome record', () => {
    const plugin = sdk.exportPlugin(manifest, (p) => sdk.outcome('done', { wait: p.duration('wait') }).table(sdk.table('t', ['A']).row(1)));
    assert.deepEqual(plugin.describe(), {
      id: 't', version: '0.1.0', description: 'a test',
      params: [{ name: 'wait', description: 'how long', default: '30s' }],
      needs: [{ capability: 'http', target: '127.0.0.1:*', access: 'read', why: 'probes' }],
    });
    assert.deepEqual(plugin.run([{ name: 'wait', value: '1m' }]), {
      summary: 'done', facts: [{ name: 'wait', value: '60000' }], tables: [{ title: 't', columns: ['A'], rows: [['1']] }], followUps: [],
    });
  });

  test('an escaping capability error is a failure with the Rust SDK hint and the step', () => {
    answers['http.get'] = () => {
      throw new ComponentError('access-denied', 'http host `10.0.0.1:9` is not granted');
    };
    const plugin = sdk.exportPlugin(manifest, () => sdk.step('probe', () => sdk.httpGet('http://10.0.0.1:9/')));
    assert.throws(() => plugin.run([]), (failure) => {
      assert.deepEqual(failure, {
        summary: 'access-denied: http host `10.0.0.1:9` is not granted', step: 'probe',
        hint: 'add the grant the message names to drhost.toml, then run again', facts: [], tables: [],
      });
      return true;
    });
  });

  test("any other exception is a failure naming the step, where it was thrown in the run's log", () => {
    const plugin = sdk.exportPlugin(manifest, () => sdk.step('parse', function parseIt() { return new RegExp('('); }));
    assert.throws(() => plugin.run([]), (failure) => {
      assert.equal(failure.summary, 'SyntaxError: Invalid regular expression: /(/: Unterminated group');
      assert.equal(failure.step, 'parse');
      assert.match(failure.hint, /the plugin's own code/);
      return true;
    });
    const logged = calls.filter((c) => c[0] === 'log.write');
    assert.equal(logged[0][1], 'error');
    assert.match(logged[0][2], /^SyntaxError thrown in parseIt/);
  });

  test('a Failure is the failure as it was thrown; a bad param fails in its step', () => {
    const plugin = sdk.exportPlugin(manifest, () => { throw sdk.fail('no URL', { hint: 'pass one' }).fact('seen', 0); });
    assert.throws(() => plugin.run([]), { summary: 'no URL', hint: 'pass one', step: undefined, facts: [{ name: 'seen', value: '0' }], tables: [] });
    const typed = sdk.exportPlugin(manifest, (p) => sdk.step('wait', () => p.duration('wait')));
    assert.throws(() => typed.run([{ name: 'wait', value: 'soon' }]), { step: 'wait', summary: '--param wait=soon: not a duration like 500ms, 30s, 5m or 1h' });
  });

  test('records refuse what the contract cannot carry', () => {
    assert.throws(() => sdk.manifest('t', '0', 'd').need('http', '*', 'READ', 'w'), /access must be Access.READ/);
    assert.throws(() => sdk.table('t', ['A', 'B']).row('only one'), /a row of 1 cells for 2 columns/);
  });
});
