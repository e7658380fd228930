"""drhost-sdk: write drhost recovery plugins in Python (contract drhost:runbook@0.2.0).

A plugin is two functions and one line, built with componentize-py:

    from drhost_sdk import Access, Params, export_plugin, manifest, outcome, run_program, step

    def describe():
        return (manifest("hello", "0.1.0", "Says hello")
                .param("greeting", "what to say", "hello")
                .need("shell", "echo", Access.WRITE, "prints the greeting"))

    def run(params: Params):
        with step("say hello") as s:
            said = run_program("echo", [params.get("greeting")])
            s.note(said.stdout.strip())
        return outcome("said hello").fact("stdout", said.stdout.strip())

    WitWorld = export_plugin(describe, run)

Every capability (`http`, `docker`, `postgres`, …, the generated bindings'
modules, re-exported here) raises a [`CapabilityError`] subclass
(`AccessDenied`, `Unavailable`, …, `.kind` = the WIT name) instead of
`componentize_py_types.Err`. An exception that escapes a `with step(…)`
ends that step failed; one that escapes `run` ends the run as a `failure`
naming the step.
"""

from wit_world.imports import (
    blob,
    compose,
    confirm,
    docker,
    files,
    http,
    log,
    notify,
    postgres,
    progress,
    redis,
    run_info,
    s3,
    secret,
    shell,
    vault,
)

from .errors import (
    AccessDenied,
    CapabilityError,
    Conflict,
    Failed,
    InvalidArgument,
    NotFound,
    Planned,
    Timeout,
    Unavailable,
    from_wit,
    to_wit,
    type_errors,
)

# Every capability raises typed exceptions from here on (wrapped in place, once).
for _name, _module in {
    "blob": blob,
    "compose": compose,
    "confirm": confirm,
    "docker": docker,
    "files": files,
    "http": http,
    "log": log,
    "notify": notify,
    "postgres": postgres,
    "progress": progress,
    "redis": redis,
    "run-info": run_info,
    "s3": s3,
    "secret": secret,
    "shell": shell,
    "vault": vault,
}.items():
    type_errors(_module, _name)

from .helpers import (  # noqa: E402
    containers_named,
    debug,
    error,
    http_get,
    info,
    is_plan,
    published_url,
    run_program,
    time_left,
    warn,
)
from .params import Params, parse_duration  # noqa: E402
from .plugin import export_plugin, failure_of  # noqa: E402
from .report import (  # noqa: E402
    Access,
    Failure,
    ManifestBuilder,
    Outcome,
    Table,
    duration_text,
    fail,
    manifest,
    outcome,
    table,
)
from .steps import Step, step  # noqa: E402

__all__ = [
    "Access", "AccessDenied", "CapabilityError", "Conflict", "Failed", "Failure", "InvalidArgument",
    "ManifestBuilder", "NotFound", "Outcome", "Params", "Planned", "Step", "Table", "Timeout", "Unavailable",
    "blob", "compose", "confirm", "containers_named", "debug", "docker", "duration_text", "error",
    "export_plugin", "fail", "failure_of", "files", "from_wit", "http", "http_get", "info", "is_plan", "log",
    "manifest", "notify", "outcome", "parse_duration", "postgres", "progress", "published_url", "redis",
    "run_info", "run_program", "s3", "secret", "shell", "step", "table", "time_left", "to_wit", "vault", "warn",
]
