"""Small helpers: log lines, the run's time and mode, and the calls most
plugins make (a program, a health URL, containers by name)."""

from __future__ import annotations

from datetime import timedelta

from wit_world.imports import docker, http, log, run_info, shell


def debug(message: str) -> None:
    """Logs at debug level (shown to the operator and journaled)."""
    log.write(log.Level.DEBUG, message)


def info(message: str) -> None:
    """Logs at info level."""
    log.write(log.Level.INFO, message)


def warn(message: str) -> None:
    """Logs at warn level."""
    log.write(log.Level.WARN, message)


def error(message: str) -> None:
    """Logs at error level."""
    log.write(log.Level.ERROR, message)


def time_left() -> timedelta:
    """How long the run has before its deadline (`drhost run --timeout`) stops the plugin."""
    return timedelta(milliseconds=run_info.time_left_ms())


def is_plan() -> bool:
    """Whether this run is a plan (`drhost run --plan`): writes are recorded, not made."""
    return run_info.mode() == run_info.RunMode.PLAN


def run_program(program: str, args: list[str], timeout_ms: int | None = None) -> shell.Completed:
    """Runs an allow-listed program (argv only, never a shell string)."""
    return shell.run(shell.Command(program, list(args), timeout_ms))


def http_get(url: str, timeout_ms: int | None = None) -> http.Response:
    """GETs a URL on a granted host (default timeout 10 s)."""
    return http.get(url, timeout_ms)


def containers_named(glob: str) -> docker.ContainerFilter:
    """A container filter selecting names by glob (`toolboxai-backend*`)."""
    return docker.ContainerFilter(glob, None, None, None)


def published_url(container: docker.ContainerInfo, container_port: str, path: str) -> str | None:
    """The URL of `path` on the host port published for `container_port`
    (`8000/tcp`); `0.0.0.0` and empty host addresses become `127.0.0.1`."""
    for binding in container.ports:
        if binding.container_port == container_port and binding.host_port:
            host = "127.0.0.1" if binding.host_ip in ("", "0.0.0.0", "::") else binding.host_ip
            return f"http://{host}:{binding.host_port}{path}"
    return None
