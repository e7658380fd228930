"""`py-probe`: a drhost runbook plugin in Python, written with drhost_sdk.

GETs each health URL it is given, one progress step per URL, and reports each
status as a fact; fails, naming the URLs, when any is unhealthy or unreachable.
Build it with `build.sh` (componentize-py against the repo's `wit/0.2.0` and
`sdk/python`).
"""

import time

from drhost_sdk import (
    Access, AccessDenied, CapabilityError, ManifestBuilder, Outcome, Params, Timeout, Unavailable,
    error, export_plugin, fail, http_get, info, manifest, outcome, run_info, step, warn,
)


def hint_for(problem: CapabilityError | None) -> str:
    """What the operator should do about the first failure, by kind."""
    match problem:
        case AccessDenied():
            return "a URL is outside this plugin's http grants: the access-denied line names the grant to add"
        case Unavailable() | Timeout():
            return "the service does not answer: is it running, and on that port?"
        case None:  # it answered, with the wrong status
            return "check the service's logs, or pass --param expect=STATUS"
        case _:
            return "see the error in the step's log"


def describe() -> ManifestBuilder:
    return (
        manifest("py-probe", "0.1.0", "Probes health URLs over HTTP (an example plugin in Python)")
        .param("urls", "comma-separated health URLs on 127.0.0.1")
        .param("expect", "the HTTP status a healthy URL answers", "200")
        .param("calls", "first time this many no-I/O host calls (run-info.time-left-ms): the fact ns-per-call", "0")
        .need("http", "127.0.0.1:*", Access.READ, "probes the health URLs")
    )


def run(params: Params) -> Outcome:
    urls = params.values("urls")
    if not urls:
        raise fail("no URL to probe", hint="pass --param urls=http://127.0.0.1:PORT/health")
    if not params.get("expect").isdigit():
        raise fail(f"expect={params.get('expect')!r} is not an HTTP status", hint="pass e.g. --param expect=204")
    expect = params.integer("expect")

    result = outcome(f"{len(urls)} URL(s) answered {expect}")
    calls = params.integer("calls")
    if calls > 0:  # the guest->host call overhead `make bench` reports
        started = time.perf_counter_ns()
        for _ in range(calls):
            run_info.time_left_ms()
        result.fact("ns-per-call", f"{(time.perf_counter_ns() - started) / calls:.1f}")
    failing: list[str] = []
    first_error: CapabilityError | None = None
    for url in urls:
        with step(f"probe {url}") as s:
            try:
                response = http_get(url)
            except CapabilityError as e:  # the typed `error` variant, as an exception
                ok, seen = False, e.kind
                # The host already shows and journals the call's error text.
                error(f"{url}: {seen}")
                if not failing:
                    first_error = e
            else:
                ok, seen = response.status == expect, str(response.status)
                (info if ok else warn)(f"{url} answered {response.status} in {response.duration_ms} ms")
            s.note(seen)
            result.fact(url, seen)
            if not ok:
                failing.append(url)
                s.fail()

    if failing:
        failure = fail(f"unhealthy (expected {expect}): {', '.join(failing)}",
                       step=f"probe {failing[0]}", hint=hint_for(first_error))
        failure.facts = result.facts
        raise failure
    return result


WitWorld = export_plugin(describe, run)
