"""What a plugin says about itself and about its run: the manifest builder,
the outcome of a run that worked, the failure of one that did not, and the
tables both can carry. Each converts to the contract's record with `to_wit()`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from wit_world.imports import types as wit

Access = wit.Access


class ManifestBuilder:
    """Builds a manifest one parameter and need at a time (see [`manifest`])."""

    def __init__(self, id: str, version: str, description: str) -> None:
        self._manifest = wit.Manifest(id, version, description, [], [])

    def param(self, name: str, description: str, default: str | None = None) -> ManifestBuilder:
        """Declares a parameter; no default makes it required."""
        self._manifest.params.append(wit.ParamSpec(name, description, default))
        return self

    def need(self, capability: str, target: str, access: wit.Access, why: str) -> ManifestBuilder:
        """Declares a need, with the reason shown to the operator."""
        self._manifest.needs.append(wit.Need(capability, target, access, why))
        return self

    def build(self) -> wit.Manifest:
        """The finished manifest."""
        return self._manifest


def manifest(id: str, version: str, description: str) -> ManifestBuilder:
    """Starts a manifest: `manifest("hello", "0.1.0", "Says hello").param(…).need(…).build()`."""
    return ManifestBuilder(id, version, description)


class Table:
    """Rows for the operator to read as one table; add rows with [`Table.row`]."""

    def __init__(self, title: str, columns: Iterable[str]) -> None:
        self.title: str = title
        self.columns: list[str] = list(columns)
        self.rows: list[list[str]] = []

    def row(self, *cells: Any) -> Table:
        """Adds a row, one cell per column (each shown as `str(cell)`)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"table {self.title!r}: a row of {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])
        return self

    def to_wit(self) -> wit.Table:
        """The contract's `table`."""
        return wit.Table(self.title, list(self.columns), [list(r) for r in self.rows])


def table(title: str, columns: Iterable[str]) -> Table:
    """A table with a title and column names."""
    return Table(title, columns)


def _facts(facts: Mapping[str, Any] | None) -> list[wit.Fact]:
    return [wit.Fact(name, str(value)) for name, value in (facts or {}).items()]


class Outcome:
    """What a successful run reports: a summary, facts, tables, follow-ups."""

    def __init__(self, summary: str, facts: Mapping[str, Any] | None = None) -> None:
        self.summary: str = summary
        self.facts: list[wit.Fact] = _facts(facts)
        self.tables: list[Table] = []
        self.follow_ups: list[wit.FollowUp] = []

    def fact(self, name: str, value: Any) -> Outcome:
        """Adds `name = str(value)`."""
        self.facts.append(wit.Fact(name, str(value)))
        return self

    def table(self, table: Table) -> Outcome:
        """Adds a table for the operator."""
        self.tables.append(table)
        return self

    def follow_up(self, action: str, why: str) -> Outcome:
        """Adds something the operator must still do by hand, and why; the run
        then ends "recovered, follow-up required" (exit 5)."""
        self.follow_ups.append(wit.FollowUp(action, why))
        return self

    def to_wit(self) -> wit.Outcome:
        """The contract's `outcome`."""
        return wit.Outcome(self.summary, list(self.facts), [t.to_wit() for t in self.tables], list(self.follow_ups))


def outcome(summary: str, facts: Mapping[str, Any] | None = None) -> Outcome:
    """A successful outcome: `return outcome("said hello").fact("stdout", said)`."""
    return Outcome(summary, facts)


class Failure(Exception):
    """A failed run: raise it from `run` (or anywhere below it).

    `raise Failure("backend2 did not come back", hint="check its logs")`;
    add what was seen with [`Failure.fact`] and [`Failure.table`]. The step
    it escapes from is filled in when `step` is not given.
    """

    def __init__(
        self,
        summary: str,
        *,
        hint: str | None = None,
        step: str | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary: str = summary
        self.hint: str | None = hint
        self.step: str | None = step
        self.facts: list[wit.Fact] = _facts(facts)
        self.tables: list[Table] = []

    def fact(self, name: str, value: Any) -> Failure:
        """Adds what was measured or seen before the failure."""
        self.facts.append(wit.Fact(name, str(value)))
        return self

    def table(self, table: Table) -> Failure:
        """Adds a table for the operator (e.g. the checks that failed)."""
        self.tables.append(table)
        return self

    def to_wit(self) -> wit.Failure:
        """The contract's `failure`."""
        return wit.Failure(self.summary, self.step, self.hint, list(self.facts), [t.to_wit() for t in self.tables])


def fail(summary: str, *, hint: str | None = None, step: str | None = None) -> Failure:
    """A [`Failure`] to raise: `raise fail("no URL to probe", hint="pass --param urls=…")`."""
    return Failure(summary, hint=hint, step=step)


def duration_text(seconds: float) -> str:
    """A duration as an operator reads it: `250 ms`, `2.5 s`, `1 min 30 s`, `2 h 5 min`."""
    ms = round(seconds * 1000)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        tenths = (ms + 50) // 100
        return f"{tenths // 10} s" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10} s"
    secs = (ms + 500) // 1000
    h, m, s = secs // 3600, secs % 3600 // 60, secs % 60
    if h == 0:
        return f"{m} min" if s == 0 else f"{m} min {s} s"
    return f"{h} h" if m == 0 else f"{h} h {m} min"
