"""Runbook steps as context managers: the CLI draws them, the journal times them.

    with step("restart backend2") as s:
        docker.restart_container("toolboxai-backend2", None)
        s.note("restarted")

The step ends ok when the block ends, failed when an exception escapes it
(which then carries the step's name into the run's failure), or earlier by
`s.ok()` / `s.fail()`.
"""

from __future__ import annotations

from types import TracebackType

from wit_world.imports import progress


class Step:
    """A step in progress (see [`step`])."""

    def __init__(self, name: str) -> None:
        self.name: str = name
        self._step = progress.Step(name)
        self._finished: bool = False

    def note(self, message: str) -> None:
        """Adds a line of detail to the step."""
        self._step.note(message)

    def ok(self) -> None:
        """Ends the step as achieved (the block's end then changes nothing)."""
        self._finish(True)

    def fail(self) -> None:
        """Ends the step as failed, without an exception (e.g. a check that found a fault)."""
        self._finish(False)

    @property
    def finished(self) -> bool:
        """Whether the step has ended."""
        return self._finished

    def _finish(self, ok: bool) -> None:
        if not self._finished:
            self._finished = True
            self._step.finish(ok)

    def __enter__(self) -> Step:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self._finish(exc is None)
        if exc is not None and getattr(exc, "step", None) is None:
            try:
                exc.step = self.name  # type: ignore[attr-defined]
            except AttributeError:
                pass  # an exception type that refuses attributes: the failure names no step
        self._step.__exit__(None, None, None)
        return False


def step(name: str) -> Step:
    """Starts a step named for what it does ("restart backend2"); use it with `with`."""
    return Step(name)
