"""The component's two exports, `describe` and `run`, built from two plain
functions by [`export_plugin`]; and what `run` turns an escaping exception
into: a `failure` naming the step, never a trap.
"""

from __future__ import annotations

import traceback
from typing import Callable

import wit_world
from componentize_py_types import Err
from wit_world.imports import log
from wit_world.imports import types as wit

from .errors import AccessDenied, CapabilityError, Planned, Timeout, Unavailable
from .params import Params
from .report import Failure, ManifestBuilder, Outcome

Describe = Callable[[], "wit.Manifest | ManifestBuilder"]
Run = Callable[[Params], "Outcome | wit.Outcome"]

_HINTS: dict[type[CapabilityError], str] = {
    AccessDenied: "add the grant the message names to drhost.toml, then run again",
    Unavailable: "check that the service is running and reachable, then run again",
    Timeout: "the service may be overloaded: run again, or give the run more time",
    Planned: "this run is a plan (drhost run --plan): the change was recorded, not made, and the plugin "
    "stopped there; run without --plan to make it",
}


def failure_of(error: BaseException) -> Failure:
    """The failure a run ends with when `error` escapes it."""
    if isinstance(error, Failure):
        return error
    step = getattr(error, "step", None)  # set by the step it escaped from
    step = step if isinstance(step, str) else None
    if isinstance(error, CapabilityError):
        return Failure(str(error), hint=_HINTS.get(type(error)), step=step)
    # A bug in the plugin (KeyError, ValueError, …): where it was raised
    # goes to the run's log (the whole traceback at debug level), the
    # failure says what and in which step.
    log.write(log.Level.ERROR, f"{type(error).__name__} raised {where(error)}")
    log.write(log.Level.DEBUG, "".join(traceback.format_exception(error)).rstrip())
    text = str(error)
    return Failure(
        f"{type(error).__name__}: {text}" if text else type(error).__name__,
        hint="an error in the plugin's own code, not in a service: its traceback is in the run's log; tell the plugin's author",
        step=step,
    )


def where(error: BaseException) -> str:
    """Where the plugin's own code raised `error`, innermost first:
    `at app.py:106 in scan_logs, from app.py:147 in run` (the standard
    library's and the SDK's frames left out)."""
    frames = [
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
        for f in reversed(traceback.extract_tb(error.__traceback__))
        if not f.filename.startswith("/python/") and "/drhost_sdk/" not in f.filename
    ]
    return "at " + ", from ".join(frames) if frames else "in the Python runtime"


def export_plugin(describe: Describe, run: Run) -> type:
    """The class componentize-py exports: in the app module, `WitWorld = export_plugin(describe, run)`.

    `describe()` returns the manifest (or its builder); `run(params)` returns
    an [`Outcome`] or raises: a [`Failure`], a [`CapabilityError`], or any
    other exception, each ending the run as a `failure` naming the step it
    escaped from.
    """

    class WitWorld(wit_world.WitWorld):
        def describe(self) -> wit.Manifest:
            manifest = describe()
            return manifest.build() if isinstance(manifest, ManifestBuilder) else manifest

        def run(self, params: list[wit.Param]) -> wit.Outcome:
            try:
                result = run(Params(params))
            except Exception as error:
                raise Err(failure_of(error).to_wit()) from None
            return result.to_wit() if isinstance(result, Outcome) else result

    return WitWorld
