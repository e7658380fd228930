"""Unit tests of drhost_sdk's pure logic, on the host's Python with the
generated bindings on the path (their capability functions are stubs, so
nothing here calls the host):

    PYTHONPATH=target/py-build/py-probe:sdk/python/src .venv/bin/python -m unittest discover -s sdk/python/tests

`tests/tests/python_sdk.rs` runs them; the plugins themselves are tested
through drhost against the lab there too.
"""

import types as pytypes
import unittest
from datetime import timedelta

import drhost_sdk as sdk
from componentize_py_types import Err
from drhost_sdk import errors, steps
from wit_world.imports import types as wit


def params(**values: str) -> sdk.Params:
    return sdk.Params([wit.Param(name.replace("_", "-"), value) for name, value in values.items()])


class Durations(unittest.TestCase):
    def test_every_unit_parses_and_the_rest_is_refused(self) -> None:
        ms = lambda n: timedelta(milliseconds=n)  # noqa: E731
        for text, want in [("250ms", ms(250)), ("30", ms(30_000)), ("30s", ms(30_000)), ("5m", ms(300_000)),
                           ("5min", ms(300_000)), ("1h", ms(3_600_000))]:
            self.assertEqual(sdk.parse_duration(text), want, text)
        for bad in ["", "s", "1.5s", "-1s", "10x", "99999999999999999999h"]:
            self.assertIsNone(sdk.parse_duration(bad), bad)

    def test_durations_read_like_a_person_writes_them(self) -> None:
        for ms, text in [(0, "0 ms"), (250, "250 ms"), (1000, "1 s"), (2500, "2.5 s"), (20_000, "20 s"),
                         (59_990, "60 s"), (90_000, "1 min 30 s"), (900_000, "15 min"), (3_600_000, "1 h"),
                         (7_500_000, "2 h 5 min")]:
            self.assertEqual(sdk.duration_text(ms / 1000), text, ms)


class TypedParams(unittest.TestCase):
    def test_values_are_typed(self) -> None:
        p = params(wait="30s", retries="3", force="yes", urls=" a, ,b ", empty="")
        self.assertEqual(p.duration("wait"), timedelta(seconds=30))
        self.assertEqual(p.seconds("wait"), 30.0)
        self.assertEqual(p.integer("retries", minimum=1), 3)
        self.assertIs(p.flag("force"), True)
        self.assertEqual(p.values("urls"), ["a", "b"])
        self.assertIsNone(p.optional("empty"))

    def test_a_bad_value_is_a_failure_naming_the_parameter_and_the_fix(self) -> None:
        p = params(wait="soon", retries="0", force="maybe")
        cases = [
            (lambda: p.duration("wait"), "--param wait=soon: not a duration like 500ms, 30s, 5m or 1h"),
            (lambda: p.integer("retries", minimum=1), "--param retries=0: not a whole number of 1 or more"),
            (lambda: p.flag("force"), "--param force=maybe: not true or false"),
            (lambda: p.get("undeclared"), "this plugin reads a parameter `undeclared` it does not declare, "
                                          "so drhost cannot pass it"),
        ]
        for call, summary in cases:
            with self.assertRaises(sdk.Failure) as raised:
                call()
            self.assertEqual(raised.exception.summary, summary)
            self.assertTrue(raised.exception.hint)


class CapabilityErrors(unittest.TestCase):
    def test_every_variant_of_the_contracts_error_has_its_own_exception(self) -> None:
        variants = [v for v in vars(wit).values() if isinstance(v, type) and v.__name__.startswith("Error_")]
        self.assertEqual(len(variants), 8)
        self.assertEqual(set(errors.VARIANTS), set(variants), "a variant without an exception class")
        kinds = set()
        for variant in variants:
            error = sdk.from_wit(variant("why"), "x.y")
            self.assertIsInstance(error, sdk.CapabilityError)
            self.assertEqual((error.message, error.call), ("why", "x.y"))
            self.assertEqual(str(error), f"{error.kind}: why")
            self.assertEqual(sdk.to_wit(error), variant("why"))
            kinds.add(error.kind)
        self.assertEqual(kinds, {"access-denied", "not-found", "invalid-argument", "unavailable", "timeout",
                                 "conflict", "failed", "planned"})

    def test_wrapped_functions_and_resource_methods_raise_the_typed_exception(self) -> None:
        module = pytypes.ModuleType("fake_capability")

        def get(url: str) -> str:
            raise Err(wit.Error_AccessDenied(f"{url} is not granted"))

        class Conn:
            @classmethod
            def open(cls, label: str) -> "Conn":
                raise Err(wit.Error_Unavailable(label))

            def ping(self) -> None:
                raise Err(wit.Error_Timeout("slow"))

        for item in (get, Conn):
            item.__module__ = module.__name__
            setattr(module, item.__name__, item)
        errors.type_errors(module, "fake")
        errors.type_errors(module, "fake")  # idempotent: wrapped once
        with self.assertRaises(sdk.AccessDenied) as denied:
            module.get("http://10.0.0.1/")
        self.assertEqual((denied.exception.kind, denied.exception.call), ("access-denied", "fake.get"))
        self.assertRaises(sdk.Unavailable, module.Conn.open, "primary")
        self.assertRaises(sdk.Timeout, object.__new__(module.Conn).ping)
        self.assertEqual(module.get.__wrapped__, get)
        self.assertFalse(hasattr(module.get.__wrapped__, "__wrapped__"), "wrapped twice")

    def test_an_escaping_capability_error_is_the_rust_sdks_failure(self) -> None:
        error = sdk.AccessDenied("grant it")
        error.step = "probe"
        failure = sdk.failure_of(error).to_wit()
        self.assertEqual((failure.summary, failure.step), ("access-denied: grant it", "probe"))
        self.assertEqual(failure.hint, "add the grant the message names to drhost.toml, then run again")


class FakeStep:
    """progress.Step without a host: records how it ended."""

    def __init__(self, name: str) -> None:
        self.name, self.notes, self.ends, self.dropped = name, [], [], False

    def note(self, message: str) -> None:
        self.notes.append(message)

    def finish(self, ok: bool) -> None:
        self.ends.append(ok)

    def __exit__(self, *exc: object) -> None:
        self.dropped = True


class Steps(unittest.TestCase):
    def setUp(self) -> None:
        self.real = steps.progress.Step
        steps.progress.Step = FakeStep

    def tearDown(self) -> None:
        steps.progress.Step = self.real

    def test_a_block_that_ends_ends_the_step_ok(self) -> None:
        with sdk.step("restart") as s:
            s.note("done")
        self.assertEqual((s._step.ends, s._step.notes, s._step.dropped), ([True], ["done"], True))

    def test_an_escaping_exception_ends_it_failed_and_carries_its_name(self) -> None:
        with self.assertRaises(KeyError) as raised:
            with sdk.step("outer"):
                with sdk.step("inner") as inner:
                    raise KeyError("backend2")
        self.assertEqual(inner._step.ends, [False])
        self.assertEqual(raised.exception.step, "inner", "the innermost step names it")
        failure = sdk.Failure("x")
        with self.assertRaises(sdk.Failure):
            with sdk.step("check"):
                raise failure
        self.assertEqual(failure.to_wit().step, "check")
        named = sdk.fail("y", step="elsewhere")
        with self.assertRaises(sdk.Failure):
            with sdk.step("check"):
                raise named
        self.assertEqual(named.step, "elsewhere", "a step the failure names is kept")

    def test_a_step_ended_early_is_not_ended_again(self) -> None:
        with sdk.step("probe") as s:
            s.fail()
        self.assertEqual(s._step.ends, [False])
        self.assertTrue(s.finished)


class Reports(unittest.TestCase):
    def test_outcome_failure_and_table_become_the_contracts_records(self) -> None:
        t = sdk.table("health", ["OK", "TARGET"]).row("yes", "backend1").row(False, 2)
        done = sdk.outcome("all healthy", {"checks": 2}).fact("ms", 12).table(t).follow_up("start it", "degraded")
        record = done.to_wit()
        self.assertEqual(record.facts, [wit.Fact("checks", "2"), wit.Fact("ms", "12")])
        self.assertEqual(record.tables, [wit.Table("health", ["OK", "TARGET"], [["yes", "backend1"], ["False", "2"]])])
        self.assertEqual(record.follow_ups, [wit.FollowUp("start it", "degraded")])
        self.assertRaises(ValueError, t.row, "one cell")
        built = sdk.manifest("p", "1.0.0", "d").param("a", "b").need("http", "h", sdk.Access.READ, "w").build()
        self.assertEqual(built.params, [wit.ParamSpec("a", "b", None)])
        self.assertEqual(built.needs, [wit.Need("http", "h", wit.Access.READ, "w")])


if __name__ == "__main__":
    unittest.main()
