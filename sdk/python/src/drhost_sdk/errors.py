"""Capability errors as Python exceptions.

The generated bindings raise `componentize_py_types.Err(Error_AccessDenied(...))`
for a WIT `error`; this module gives each variant of `types.error`
(wit/0.2.0/types.wit) its own exception class with a `.kind`, and wraps
every function and resource method of the generated capability modules in
place, once, so that they raise those classes instead. It adds no call of
its own and changes no argument: the contract stays the generated one.
"""

from __future__ import annotations

import functools
import inspect
from types import ModuleType
from typing import Any, Callable, ClassVar

from componentize_py_types import Err
from wit_world.imports import types as wit


class CapabilityError(Exception):
    """A capability call did not succeed: one variant of the contract's `error`.

    `kind` is the variant's WIT name (`access-denied`, `timeout`, …),
    `message` the host's text, `call` the function that raised it
    (`http.get`), `step` the step it escaped from, if any.
    """

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, call: str | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.call: str | None = call
        self.step: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def describe(self) -> str:
        """`kind: message`, the way the operator should read it."""
        return str(self)


class AccessDenied(CapabilityError):
    """The call is outside the operator's grants; the message names the grant that would allow it."""

    kind = "access-denied"


class NotFound(CapabilityError):
    """The target, object or program does not exist."""

    kind = "not-found"


class InvalidArgument(CapabilityError):
    """The plugin passed something malformed."""

    kind = "invalid-argument"


class Unavailable(CapabilityError):
    """The service is down, refused the connection, or cannot be resolved."""

    kind = "unavailable"


class Timeout(CapabilityError):
    """The call did not finish within its timeout."""

    kind = "timeout"


class Conflict(CapabilityError):
    """The state changed under us (e.g. the object already exists)."""

    kind = "conflict"


class Failed(CapabilityError):
    """The service answered with an error."""

    kind = "failed"


class Planned(CapabilityError):
    """Plan mode (`drhost run --plan`): the change was recorded, not made.

    Treat it as done and skip waits that only make sense after a real change.
    """

    kind = "planned"


# One exception class per variant of `types.error`; a variant missing here
# is a contract change this SDK does not know yet.
VARIANTS: dict[type, type[CapabilityError]] = {
    wit.Error_AccessDenied: AccessDenied,
    wit.Error_NotFound: NotFound,
    wit.Error_InvalidArgument: InvalidArgument,
    wit.Error_Unavailable: Unavailable,
    wit.Error_Timeout: Timeout,
    wit.Error_Conflict: Conflict,
    wit.Error_Failed: Failed,
    wit.Error_Planned: Planned,
}


def from_wit(error: wit.Error, call: str | None = None) -> CapabilityError:
    """The exception for a contract `error` value."""
    return VARIANTS[type(error)](error.value, call)


def to_wit(error: CapabilityError) -> wit.Error:
    """The contract `error` value of an exception (e.g. to hand one on)."""
    for variant, cls in VARIANTS.items():
        if type(error) is cls:
            return variant(error.message)
    return wit.Error_Failed(error.message)


def _typed(function: Callable[..., Any], call: str) -> Callable[..., Any]:
    """`function`, raising the [`CapabilityError`] of an `Err(error)` it raises."""

    @functools.wraps(function)
    def typed(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Err as e:
            if type(e.value) in VARIANTS:
                raise from_wit(e.value, call) from None
            raise

    typed.__drhost_typed__ = True  # type: ignore[attr-defined]
    return typed


def type_errors(module: ModuleType, interface: str) -> None:
    """Wraps, in place, every function of a generated capability module and
    every public method of its resources (idempotent)."""
    for name, obj in list(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) and not hasattr(obj, "__drhost_typed__"):
            setattr(module, name, _typed(obj, f"{interface}.{name}"))
        elif inspect.isclass(obj):
            for method, raw in list(vars(obj).items()):
                if method.startswith("_"):
                    continue
                call = f"{interface}.{method}"
                if isinstance(raw, (staticmethod, classmethod)):
                    if not hasattr(raw.__func__, "__drhost_typed__"):
                        setattr(obj, method, type(raw)(_typed(raw.__func__, call)))
                elif inspect.isfunction(raw) and not hasattr(raw, "__drhost_typed__"):
                    setattr(obj, method, _typed(raw, call))
