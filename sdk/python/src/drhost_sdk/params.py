"""The operator's parameters, typed: text, numbers, flags, lists and durations.

A value that does not parse becomes a [`Failure`] naming the parameter and
the fix, so `params.duration("wait")` needs no error handling in a plugin.
"""

from __future__ import annotations

import re
from datetime import timedelta

from wit_world.imports import types as wit

from .report import Failure

_DURATION = re.compile(r"(\d+)(ms|s|m|min|h)?")
_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "min": 60, "h": 3600}
_FLAGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def parse_duration(text: str) -> timedelta | None:
    """`250ms`, `30s`, `30` (seconds), `5m`, `1h`; None for anything else."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:
        return None


class Params:
    """The operator's `--param`s, with the plugin's defaults applied by the host."""

    def __init__(self, params: list[wit.Param]) -> None:
        self._values: dict[str, str] = {p.name: p.value for p in params}

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def get(self, name: str) -> str:
        """The value of `name`; a [`Failure`] when the plugin did not declare it."""
        try:
            return self._values[name]
        except KeyError:
            raise Failure(
                f"this plugin reads a parameter `{name}` it does not declare, so drhost cannot pass it",
                hint="a bug in the plugin: tell its author (`drhost inspect` lists the parameters it declares)",
            ) from None

    def optional(self, name: str) -> str | None:
        """The value of `name`, or None when it is empty."""
        value = self.get(name)
        return value if value else None

    def values(self, name: str, sep: str = ",") -> list[str]:
        """The value of `name` split at `sep`, each item stripped, empty ones dropped."""
        return [item.strip() for item in self.get(name).split(sep) if item.strip()]

    def integer(self, name: str, minimum: int | None = None) -> int:
        """The value of `name` as a whole number (at least `minimum`, when given)."""
        text = self.get(name)
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or (minimum is not None and value < minimum):
            what = "a whole number" if minimum is None else f"a whole number of {minimum} or more"
            raise Failure(f"--param {name}={text}: not {what}", hint=f"pass --param {name}=N with N {what}")
        return value

    def flag(self, name: str) -> bool:
        """The value of `name` as a yes/no: true/false, yes/no, on/off, 1/0."""
        text = self.get(name)
        value = _FLAGS.get(text.strip().lower())
        if value is None:
            raise Failure(f"--param {name}={text}: not true or false", hint=f"pass --param {name}=true or false")
        return value

    def duration(self, name: str) -> timedelta:
        """The value of `name` as a duration: `250ms`, `30s` (or a bare number of seconds), `5m`, `1h`."""
        text = self.get(name)
        value = parse_duration(text)
        if value is None:
            raise Failure(
                f"--param {name}={text}: not a duration like 500ms, 30s, 5m or 1h",
                hint=f"pass --param {name}=30s (ms, s, m or h)",
            )
        return value

    def seconds(self, name: str) -> float:
        """The value of `name` as a duration, in seconds."""
        return self.duration(name).total_seconds()
