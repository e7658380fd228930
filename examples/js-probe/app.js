// `js-probe`: a drhost runbook plugin in JavaScript, written with drhost-sdk
// (sdk/js). The same plugin as examples/python-probe, ported.
//
// GETs each health URL it is given, one progress step per URL, and reports
// each status as a fact; fails, naming the URLs, when any is unhealthy or
// unreachable. Build it with sdk/js/build.sh.

import {
  Access,
  AccessDenied,
  CapabilityError,
  Timeout,
  Unavailable,
  error,
  exportPlugin,
  fail,
  httpGet,
  info,
  manifest,
  runInfo,
  outcome,
  step,
  warn,
} from 'drhost-sdk';

/** What the operator should do about the first failure, by kind. */
function hintFor(problem) {
  if (problem instanceof AccessDenied) {
    return "a URL is outside this plugin's http grants: the access-denied line names the grant to add";
  }
  if (problem instanceof Unavailable || problem instanceof Timeout) {
    return 'the service does not answer: is it running, and on that port?';
  }
  if (problem === undefined) {
    return "check the service's logs, or pass --param expect=STATUS"; // it answered, with the wrong status
  }
  return "see the error in the step's log";
}

function describePlugin() {
  return manifest('js-probe', '0.1.0', 'Probes health URLs over HTTP (an example plugin in JavaScript)')
    .param('urls', 'comma-separated health URLs on 127.0.0.1')
    .param('expect', 'the HTTP status a healthy URL answers', '200')
    .param('calls', 'first time this many no-I/O host calls (run-info.time-left-ms): the fact ns-per-call', '0')
    .need('http', '127.0.0.1:*', Access.READ, 'probes the health URLs');
}

function probe(params) {
  const urls = params.values('urls');
  if (urls.length === 0) {
    throw fail('no URL to probe', { hint: 'pass --param urls=http://127.0.0.1:PORT/health' });
  }
  const expect = params.integer('expect', { minimum: 100 });

  const result = outcome(`${urls.length} URL(s) answered ${expect}`);
  const calls = params.integer('calls', { minimum: 0 });
  if (calls > 0) {
    // The guest->host call overhead `make bench` reports.
    const started = performance.now();
    for (let i = 0; i < calls; i++) {
      runInfo.timeLeftMs();
    }
    result.fact('ns-per-call', (((performance.now() - started) * 1e6) / calls).toFixed(1));
  }
  const failing = [];
  let firstError;
  for (const url of urls) {
    step(`probe ${url}`, (s) => {
      let ok;
      let seen;
      try {
        const response = httpGet(url);
        ok = response.status === expect;
        seen = String(response.status);
        (ok ? info : warn)(`${url} answered ${response.status} in ${response.durationMs} ms`);
      } catch (e) {
        if (!(e instanceof CapabilityError)) {
          throw e;
        }
        // The typed `error` variant, as an exception; the host already shows
        // and journals the call's error text.
        ok = false;
        seen = e.kind;
        error(`${url}: ${seen}`);
        if (failing.length === 0) {
          firstError = e;
        }
      }
      s.note(seen);
      result.fact(url, seen);
      if (!ok) {
        failing.push(url);
        s.fail();
      }
    });
  }

  if (failing.length > 0) {
    const failure = fail(`unhealthy (expected ${expect}): ${failing.join(', ')}`, {
      step: `probe ${failing[0]}`,
      hint: hintFor(firstError),
    });
    for (const { name, value } of result.facts) {
      failure.fact(name, value);
    }
    throw failure;
  }
  return result;
}

export const { describe, run } = exportPlugin(describePlugin, probe);
