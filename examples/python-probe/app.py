"""`py-probe`: a drhost runbook plugin in Python.

GETs each health URL it is given, one progress step per URL, and reports each
status as a fact; fails, naming the URLs, when any is unhealthy or unreachable.
Build it with `build.sh` (componentize-py against the repo's `wit/`).
"""

import re

from componentize_py_types import Err
import wit_world
from wit_world.imports import http, log, progress
from wit_world.imports.types import (
    Access, Error, Error_AccessDenied, Error_Timeout, Error_Unavailable,
    Failure, Fact, Manifest, Need, Outcome, Param, ParamSpec,
)


def kind(error: Error) -> str:
    """The WIT name of an `error` variant: Error_AccessDenied -> "access-denied"."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "-", type(error).__name__.removeprefix("Error_")).lower()


def hint_for(error: Error | None) -> str:
    """What the operator should do about the first failure, by variant."""
    match error:
        case Error_AccessDenied():
            return "a URL is outside this plugin's http grants: the access-denied line names the grant to add"
        case Error_Unavailable() | Error_Timeout():
            return "the service does not answer: is it running, and on that port?"
        case None:  # it answered, with the wrong status
            return "check the service's logs, or pass --param expect=STATUS"
        case _:
            return "see the error in the step's log"


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Manifest:
        return Manifest(
            id="py-probe",
            version="0.1.0",
            description="Probes health URLs over HTTP (an example plugin in Python)",
            params=[
                ParamSpec("urls", "comma-separated health URLs on 127.0.0.1", None),
                ParamSpec("expect", "the HTTP status a healthy URL answers", "200"),
            ],
            needs=[Need("http", "127.0.0.1:*", Access.READ, "probes the health URLs")],
        )

    def run(self, params: list[Param]) -> Outcome:
        # A WIT `result<outcome, failure>`: return the outcome, raise Err(failure).
        args = {p.name: p.value for p in params}
        urls = [u.strip() for u in args.get("urls", "").split(",") if u.strip()]
        if not urls:
            raise Err(Failure("no URL to probe", None, "pass --param urls=http://127.0.0.1:PORT/health", [], []))
        expect = args.get("expect", "200")  # the host applied the default already
        if not expect.isdigit():
            raise Err(Failure(f"expect={expect!r} is not an HTTP status", None, "pass e.g. --param expect=204", [], []))
        expect = int(expect)

        facts, failing, first_error = [], [], None
        for url in urls:
            # `with` drops the step resource at the end; finish() comes first.
            with progress.Step(f"probe {url}") as step:
                try:
                    response = http.get(url, None)
                except Err as e:  # the typed `error` variant, as a value
                    ok, seen = False, kind(e.value)
                    # The host already shows and journals the call's error text.
                    log.write(log.Level.ERROR, f"{url}: {seen}")
                    if not failing:
                        first_error = e.value
                else:
                    ok, seen = response.status == expect, str(response.status)
                    log.write(log.Level.INFO if ok else log.Level.WARN,
                              f"{url} answered {response.status} in {response.duration_ms} ms")
                step.note(seen)
                facts.append(Fact(url, seen))
                if not ok:
                    failing.append(url)
                step.finish(ok)

        if failing:
            raise Err(Failure(f"unhealthy (expected {expect}): {', '.join(failing)}",
                              f"probe {failing[0]}", hint_for(first_error), facts, []))
        return Outcome(f"{len(urls)} URL(s) answered {expect}", facts, [], [])
