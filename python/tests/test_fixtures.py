"""Every fixture run of ``fixtures/`` through the Python API, against the
golden files the Rust fixture test uses: the same exit code, the same JSON
(every field, in order, with the ``stats`` of every check, nested ones
too, normalised) and the same text, or the same error."""

from __future__ import annotations

import dataclasses
import json
import keyword
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

import pytest

import haplan
from conftest import SUBCOMMANDS, ROOT, Run, bad_pool_paths, fixture_runs, normalise_text_stats, valid_pool_paths

RUNS = fixture_runs()
# Options of answered subcommands that the Python API leaves out: diff's
# reference shape (ask `Pool.headroom` of each pool instead) and headroom's
# `--method`, for comparing methods (the answer is the same; the placement
# may differ); timing's `--set-limit`, for testing the greedy search.
CLI_ONLY_FLAGS = {"diff": ("--vm",), "headroom": ("--method",), "timing": ("--set-limit",)}
PREFIX = f"{ROOT}/"
T = TypeVar("T")


def load(run: Run) -> haplan.Pool:
    if run.stdin:
        return haplan.Pool.from_json(run.pool_path.read_text(encoding="utf-8"), source="<stdin>")
    return haplan.Pool.load(run.pool_path)


Result = Union[
    haplan.Report,
    haplan.Plan,
    haplan.Agility,
    haplan.WhatIfReport,
    haplan.DiffReport,
    haplan.HeadroomReport,
    haplan.DrainReport,
    haplan.TiersReport,
    haplan.TimingReport,
]


def _optional(run: Run, flag: str, kind: Callable[[str], T]) -> Optional[T]:
    value = run.flag(flag)
    return kind(value) if value is not None else None


def execute(run: Run) -> Result:
    """What ``haplan <run.command>`` computes, through the Python API."""
    pool = load(run)
    sub = run.command[0]
    if sub == "check":
        return pool.check(
            tolerate=_optional(run, "--tolerate", int),
            time_limit_s=_optional(run, "--time-limit", float),
            explain="--explain" in run.command,
            threads=_optional(run, "--threads", int),
            strategy=run.flag("--strategy") or "full",
        )
    if sub == "plan":
        failed = run.flag("--fail")
        assert failed is not None
        return pool.plan(failed=failed.split(","), time_limit_s=_optional(run, "--time-limit", float))
    if sub == "agility":
        return pool.agility()
    if sub == "whatif":
        (changes,) = run.with_paths
        return pool.whatif(
            changes.read_text(encoding="utf-8"),
            source=str(changes),
            tolerate=_optional(run, "--tolerate", int),
            time_limit_s=_optional(run, "--time-limit", float),
            explain="--explain" in run.command,
        )
    if sub == "diff":
        (new,) = run.with_paths
        return pool.diff(
            haplan.Pool.load(new),
            tolerate=_optional(run, "--tolerate", int),
            no_regress="--no-regress" in run.command,
            time_limit_s=_optional(run, "--time-limit", float),
            explain="--explain" in run.command,
        )
    if sub == "headroom":
        vm = run.flag("--vm")
        assert vm is not None
        storage, networks = run.flag("--storage"), run.flag("--networks")
        return pool.headroom(
            vm,
            storage=storage.split(",") if storage is not None else None,
            networks=networks.split(",") if networks is not None else None,
            tolerate=_optional(run, "--tolerate", int),
            time_limit_s=_optional(run, "--time-limit", float),
        )
    if sub == "drain":
        return pool.drain(
            run.command[1],
            tolerate=_optional(run, "--tolerate", int),
            time_limit_s=_optional(run, "--time-limit", float),
        )
    if sub == "tiers":
        return pool.tiers(
            tolerate=_optional(run, "--tolerate", int),
            time_limit_s=_optional(run, "--time-limit", float),
        )
    if sub == "timing":
        fail = run.flag("--fail")
        concurrency = _optional(run, "--concurrency", int)
        return pool.timing(
            tolerate=_optional(run, "--tolerate", int),
            boot_time_s=_optional(run, "--boot-time", int) or 60,
            concurrency=concurrency,
            fence_time_s=_optional(run, "--fence-time", int) or 0,
            fail=fail.split(",") if fail is not None else None,
        )
    raise AssertionError(f"no Python equivalent of {run.command}")


def checks(result: Result) -> List[Tuple[List[str], haplan.Report]]:
    """The checks a result is or nests, each with its path in the JSON."""
    if isinstance(result, haplan.Report):
        return [([], result)]
    if isinstance(result, haplan.WhatIfReport):
        return [(["before"], result.before), (["after"], result.after)]
    if isinstance(result, haplan.DiffReport):
        return [(["old"], result.old), (["new"], result.new)]
    if isinstance(result, haplan.HeadroomReport):
        return [(["check"], result.check)]
    if isinstance(result, haplan.DrainReport) and result.end_state is not None:
        return [(["end_state"], result.end_state)]
    return []


def normalise_json_stats(data: Dict[str, Any], result: Result) -> None:
    """Every ``stats`` object as the golden files have it, after checking
    its shape and that it is the report's ``stats``."""
    for path, report in checks(result):
        obj = data
        for key in path:
            obj = obj[key]
        stats = obj["stats"]
        assert all(isinstance(v, int) for v in stats.values())
        assert stats["scenarios"] == report.stats.scenarios
        obj["stats"] = "(normalised)"
    if isinstance(result, haplan.TimingReport):
        stats = data["stats"]
        assert stats == dataclasses.asdict(result.stats)
        assert stats["scenarios"] == result.sets
        data["stats"] = "(normalised)"
    if isinstance(result, (haplan.HeadroomReport, haplan.DrainReport)):
        # Its own stats, besides those of the check it nests.
        stats = data["stats"]
        assert all(isinstance(v, int) for v in stats.values())
        assert stats == dataclasses.asdict(result.stats)
        data["stats"] = "(normalised)"


@pytest.mark.parametrize("run", RUNS, ids=str)
def test_fixture_run(run: Run) -> None:
    if run.command[0] not in SUBCOMMANDS:
        pytest.skip(f"haplan {run.command[0]} is a command-line feature, not in the Python API")
    for flag in CLI_ONLY_FLAGS.get(run.command[0], ()):
        if flag in run.command:
            pytest.skip(f"haplan {run.command[0]} {flag} is a command-line feature, not in the Python API")
    golden = run.golden()
    if golden.exit == 2 and golden.stderr.endswith("For more information, try '--help'.\n"):
        pytest.skip("a usage error of the command line (Python raises TypeError or ValueError)")
    if golden.exit == 2:
        # Bad input: the same message as the command line, without "haplan: ".
        with pytest.raises(haplan.HaplanError) as caught:
            execute(run)
        err = caught.value
        assert "haplan: " + str(err).replace(PREFIX, "") + "\n" == golden.stderr
        if golden.stdout:
            # --format json: the error object says the same, problem by problem.
            assert run.flag("--format") == "json"
            data = json.loads(golden.stdout)
            assert "haplan: " + data["message"] + "\n" == golden.stderr
            if isinstance(err, (haplan.InvalidPoolError, haplan.InvalidChangesError, haplan.InvalidShapeError)):
                assert [(p["path"], p["message"], p["line"], p["column"]) for p in data["problems"]] == [
                    (p.path, p.message, p.line, p.column) for p in err.problems
                ]
        if isinstance(err, (haplan.InvalidPoolError, haplan.InvalidChangesError, haplan.InvalidShapeError)):
            if isinstance(err, haplan.InvalidPoolError):
                # The run's pool, or the NEW pool of a diff.
                assert not run.valid or (run.command[0] == "diff" and "/bad/" in run.with_paths[0].as_posix())
            elif isinstance(err, haplan.InvalidShapeError):
                assert run.command[0] == "headroom"
            else:
                assert run.command[0] == "whatif"
            lines = golden.stderr.rstrip("\n").split("\n")
            assert ["  " + str(p) for p in err.problems] == lines[1:]
        else:
            assert isinstance(err, haplan.QueryError)
        return
    assert run.valid, "a bad pool must not load"
    result = execute(run)
    assert result.exit_code == golden.exit
    assert golden.stderr == ""
    if run.flag("--format") == "markdown":
        # The Markdown of a pull-request comment, by the same renderer.
        assert isinstance(result, (haplan.Report, haplan.DiffReport))
        assert result.to_markdown() == golden.stdout
    elif run.flag("--format") == "json":
        data = result.to_dict()
        normalise_json_stats(data, result)
        assert json.dumps(data, indent=2, ensure_ascii=False) + "\n" == golden.stdout
    else:
        assert normalise_text_stats(str(result)) == golden.stdout


def attribute_name(key: str) -> str:
    """The attribute a JSON key is: the key itself, or, for a key that is
    a Python keyword (``from``), the key with an underscore appended."""
    return key + "_" if keyword.iskeyword(key) else key


def uncovered(value: Any, data: Any, path: str) -> List[str]:
    """Where the typed answer ``value`` misses or misstates its JSON
    ``data``: every key of every object of the JSON must be an attribute
    (a dict's keys for a ``Dict`` attribute) holding the same value, lists
    element by element, down to the leaves. An empty list when it covers
    all of it."""
    if isinstance(data, dict):
        if isinstance(value, dict):
            if set(value) != set(data):
                return [f"{path}: keys {sorted(value)} != {sorted(data)}"]
            return [p for k in data for p in uncovered(value[k], data[k], f"{path}.{k}")]
        out = []
        for key, item in data.items():
            name = attribute_name(key)
            if not hasattr(value, name):
                out.append(f"{path}.{key}: no attribute {name!r} on {type(value).__name__}")
            else:
                out.extend(uncovered(getattr(value, name), item, f"{path}.{key}"))
        return out
    if isinstance(data, list):
        if not isinstance(value, list) or len(value) != len(data):
            return [f"{path}: {value!r} is not a list of {len(data)}"]
        return [p for i, (v, d) in enumerate(zip(value, data)) for p in uncovered(v, d, f"{path}[{i}]")]
    # A leaf: the same value of the same kind (a bool is no int, an
    # int no str); a string enum equals its string.
    if isinstance(value, bool) != isinstance(data, bool) or value != data:
        return [f"{path}: {value!r} != {data!r}"]
    if isinstance(data, int) and not isinstance(data, bool) and not isinstance(value, int):
        return [f"{path}: {value!r} is not an int"]
    return []


ANSWERED = [r for r in RUNS if r.valid and r.command[0] in SUBCOMMANDS and r.golden().exit != 2]


@pytest.mark.parametrize("run", ANSWERED, ids=str)
def test_every_json_field_is_an_attribute(run: Run) -> None:
    """Every field of every answer's JSON, nested ones included, is a typed
    attribute with the JSON's value: a field the command line adds and the
    Python classes miss fails here."""
    for flag in CLI_ONLY_FLAGS.get(run.command[0], ()):
        if flag in run.command:
            pytest.skip(f"haplan {run.command[0]} {flag} is a command-line feature, not in the Python API")
    result = execute(run)
    assert uncovered(result, result.to_dict(), run.command[0]) == []


# Each command's answer class; its JSON Schema is
# solver/wire/schema/<command>.schema.json (``haplan schema <command>``).
ANSWER_CLASSES: Dict[str, type] = {
    "check": haplan.Report,
    "plan": haplan.Plan,
    "agility": haplan.Agility,
    "whatif": haplan.WhatIfReport,
    "diff": haplan.DiffReport,
    "headroom": haplan.HeadroomReport,
    "drain": haplan.DrainReport,
    "tiers": haplan.TiersReport,
    "timing": haplan.TimingReport,
}
# Fields of a command-line feature the Python API leaves out (see
# CLI_ONLY_FLAGS): diff's headroom, printed only with ``--vm``.
CLI_ONLY_FIELDS: Dict[str, Tuple[str, ...]] = {"diff": ("headroom",)}


def _object_schemas(schema: Dict[str, Any], defs: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The object schemas (with ``properties``) a value of ``schema`` may
    be: through ``$ref``, ``anyOf``/``oneOf`` (optional values, untagged
    alternatives) and ``items`` (lists)."""
    if "$ref" in schema:
        return _object_schemas(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "properties" in schema:
        return [schema]
    out: List[Dict[str, Any]] = []
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        out.extend(_object_schemas(alternative, defs))
    if isinstance(schema.get("items"), dict):
        out.extend(_object_schemas(schema["items"], defs))
    return out


def _classes(hint: Any) -> List[type]:
    """The dataclasses an attribute's type names (``Optional[List[X]]``: X)."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return [hint]
    return [c for arg in getattr(hint, "__args__", ()) for c in _classes(arg)]


def _attribute_hint(cls: type, name: str) -> Any:
    """The type of ``cls``'s attribute ``name`` (a field, or a property's
    return type); None when it has no such attribute."""
    if not hasattr(cls, name) and name not in {f.name for f in dataclasses.fields(cls)}:
        return None
    member = getattr(cls, name, None)
    if isinstance(member, property) and member.fget is not None:
        return typing.get_type_hints(member.fget, localns=vars(haplan)).get("return", Any)
    return typing.get_type_hints(cls, localns=vars(haplan)).get(name, Any)


def schema_uncovered(cls: type, schema: Dict[str, Any], defs: Dict[str, Any], path: str) -> List[str]:
    """Where the class ``cls`` misses a field of the object ``schema``:
    every property must be an attribute, and where the attribute's type is
    a dataclass (optional, or a list of them), that class must cover the
    property's object schema in turn."""
    out: List[str] = []
    for key, sub in schema["properties"].items():
        name = attribute_name(key)
        hint = _attribute_hint(cls, name)
        if hint is None:
            out.append(f"{path}.{key}: no attribute {name!r} on {cls.__name__}")
            continue
        objects = _object_schemas(sub, defs)
        classes = _classes(hint)
        if objects and not classes:
            out.append(f"{path}.{key}: an object in the schema, {hint!r} on {cls.__name__}")
        for c in classes:
            for o in objects:
                out.extend(schema_uncovered(c, o, defs, f"{path}.{key}"))
    return out


@pytest.mark.parametrize("command", list(ANSWER_CLASSES))
def test_every_schema_field_is_an_attribute(command: str) -> None:
    """Every field the JSON Schema of an answer lists, nested ones and
    those few fixtures print included, is an attribute of its class: a
    field added to an answer and missed by the Python classes fails here."""
    schema = json.loads((ROOT / "solver/wire/schema" / f"{command}.schema.json").read_text(encoding="utf-8"))
    top = dict(schema, properties={k: v for k, v in schema["properties"].items() if k not in CLI_ONLY_FIELDS.get(command, ())})
    assert schema_uncovered(ANSWER_CLASSES[command], top, schema.get("$defs", {}), command) == []


def test_schema_uncovered_finds_what_is_missing() -> None:
    """The walk itself: a field the class lacks is found, at the top and
    in a nested object behind ``$ref`` and ``anyOf``."""
    defs = {"Short": {"type": "object", "properties": {"resource": {}, "surplus": {}}}}
    witness = {"type": "object", "properties": {"reason": {}, "short": {"anyOf": [{"$ref": "#/$defs/Short"}, {"type": "null"}]}}}
    assert schema_uncovered(haplan.Witness, witness, defs, "w") == ["w.short.surplus: no attribute 'surplus' on Short"]
    assert schema_uncovered(haplan.Witness, {"properties": {"odd": {}}}, {}, "w") == ["w.odd: no attribute 'odd' on Witness"]


def test_uncovered_finds_what_is_missing() -> None:
    """The comparison itself: a missing key, a different value, a list of
    another length, an int given as a string are each found."""
    w = haplan.Witness(failed_hosts=["h1"], unplaced=[], reason="r")
    data = {"failed_hosts": ["h1"], "unplaced": [], "reason": "r"}
    assert uncovered(w, data, "w") == []
    assert uncovered(w, {**data, "extra": 1}, "w") == ["w.extra: no attribute 'extra' on Witness"]
    assert uncovered(w, {**data, "reason": "s"}, "w") == ["w.reason: 'r' != 's'"]
    assert uncovered(w, {**data, "failed_hosts": ["h1", "h2"]}, "w") == [
        "w.failed_hosts: ['h1'] is not a list of 2"
    ]
    p = haplan.Placement(vm="a", host="h2", order=0, restart="protected", priority="3500", start_delay_s=0)
    pd = {"vm": "a", "host": "h2", "order": 0, "restart": "protected", "priority": 3500, "start_delay_s": 0}
    assert uncovered(p, pd, "p") == ["p.priority: '3500' != 3500"]
    assert uncovered(haplan.Verdict.OK, "ok", "v") == []
    assert uncovered(True, 1, "b") == ["b: True != 1"]


def assert_report_matches(report: haplan.Report, data: Dict[str, Any]) -> None:
    """The attributes of a check report are its JSON fields, with the same values."""
    for key in ("pool", "configured", "max_tolerable", "ok", "exact", "upper_bound", "warnings", "stranded_now"):
        assert getattr(report, key) == data[key], key
    assert [{"vm": n.vm, "reasons": n.reasons} for n in report.not_agile] == data["not_agile"]
    if data["witness"] is None:
        assert report.witness is None
    else:
        w = report.witness
        assert w is not None
        assert (w.failed_hosts, w.unplaced, w.reason) == (
            data["witness"]["failed_hosts"],
            data["witness"]["unplaced"],
            data["witness"]["reason"],
        )
        short = data["witness"].get("short")
        if short is None:
            assert w.short is None
        else:
            assert w.short == haplan.Short(**short)
        assert w.failed_domains == data["witness"].get("failed_domains")
    if data.get("failure_domains") is None:
        assert report.failure_domains is None
    else:
        assert report.failure_domains is not None
        assert dataclasses.asdict(report.failure_domains) == data["failure_domains"]
    assert report.stats.scenarios == data["stats"]["scenarios"]
    assert report.ok == (report.verdict == haplan.Verdict.OK)


@pytest.mark.parametrize("run", [r for r in RUNS if r.valid and r.command[0] == "check"], ids=str)
def test_report_attributes_match_json(run: Run) -> None:
    """The attributes are the JSON fields, with the same values."""
    report = execute(run)
    assert isinstance(report, haplan.Report)
    assert_report_matches(report, report.to_dict())


WHATIF_DIFF = [r for r in RUNS if r.command[0] in ("whatif", "diff") and r.golden().exit != 2]


@pytest.mark.parametrize("run", WHATIF_DIFF, ids=str)
def test_whatif_diff_attributes_match_json(run: Run) -> None:
    """The same for what-if and diff reports, and the checks they nest."""
    result = execute(run)
    data = result.to_dict()
    if isinstance(result, haplan.WhatIfReport):
        assert (result.pool, result.changes, result.ok) == (data["pool"], data["changes"], data["ok"])
        assert result.ok == result.after.ok and result.verdict is result.after.verdict
        assert result.changed_pool.name == result.pool
    else:
        assert isinstance(result, haplan.DiffReport)
        for key in ("ok", "tolerate", "no_regress", "regressed", "reasons", "hosts_added", "hosts_removed"):
            assert getattr(result, key) == data[key], key
        for key in ("vms_added", "vms_removed", "removed_protected"):
            assert getattr(result, key) == data[key], key
        assert [{"vm": x.vm, "restart": x.restart} for x in result.lost_protection] == data["lost_protection"]
        assert [{"vm": n.vm, "reasons": n.reasons} for n in result.newly_not_agile] == data["newly_not_agile"]
        assert result.ok == (result.verdict is haplan.Verdict.OK)
        assert result.old.configured == result.new.configured == result.tolerate
    for path, report in checks(result):
        assert_report_matches(report, data[path[0]])
        # Each nested check's text is in the report's text.
        assert str(report) in str(result)


@pytest.mark.parametrize("run", [r for r in RUNS if r.command[0] == "whatif" and r.id != "syntax"], ids=str)
def test_whatif_changes_as_data_same_answer(run: Run) -> None:
    """Changes given as Python data (what ``json.load`` returns) are the
    change file's text: the same report, or the same problems."""
    (path,) = run.with_paths
    pool = load(run)
    text = path.read_text(encoding="utf-8")
    tolerate = _optional(run, "--tolerate", int)
    explain = "--explain" in run.command
    try:
        expected: Any = pool.whatif(text, tolerate=tolerate, explain=explain)
    except haplan.InvalidChangesError as e:
        with pytest.raises(haplan.InvalidChangesError) as caught:
            pool.whatif(json.loads(text), tolerate=tolerate, explain=explain)
        assert caught.value.problems == e.problems
        assert str(caught.value) == str(e)
        return
    got = pool.whatif(json.loads(text), tolerate=tolerate, explain=explain)
    a, b = expected.to_dict(), got.to_dict()
    for d in (a, b):
        d["before"].pop("stats")
        d["after"].pop("stats")
    assert a == b
    assert got.changed_pool == expected.changed_pool


@pytest.mark.parametrize("path", valid_pool_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_from_dict_equals_from_json(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    a = haplan.Pool.from_json(text)
    b = haplan.Pool.from_dict(json.loads(text))
    assert a == b
    assert b == haplan.Pool.from_json(b.to_json())
    ra, rb = a.check(explain=True).to_dict(), b.check(explain=True).to_dict()
    ra.pop("stats")
    rb.pop("stats")
    assert ra == rb


def _problems(source: Any) -> Any:
    with pytest.raises(haplan.InvalidPoolError) as caught:
        source()
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize("path", bad_pool_paths(), ids=lambda p: p.stem)
def test_bad_pool_from_dict_same_problems(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        pytest.skip("not JSON: only from_json can read it")
    assert _problems(lambda: haplan.Pool.from_dict(data)) == _problems(lambda: haplan.Pool.from_json(text))


HEADROOM = [r for r in RUNS if r.command[0] == "headroom" and r.golden().exit != 2 and "--method" not in r.command]


@pytest.mark.parametrize("run", HEADROOM, ids=str)
def test_headroom_attributes_match_json(run: Run) -> None:
    """The same for headroom reports, and the check they nest."""
    result = execute(run)
    assert isinstance(result, haplan.HeadroomReport)
    data = result.to_dict()
    for key in ("pool", "tolerate", "ok", "max_additional", "upper_bound", "exact"):
        assert getattr(result, key) == data[key], key
    assert dataclasses.asdict(result.vm) == data["vm"]
    assert [dataclasses.asdict(p) for p in result.placement] == data["placement"]
    assert dataclasses.asdict(result.limit) == data["limit"]
    assert [dataclasses.asdict(h) for h in result.hosts] == data["hosts"]
    assert dataclasses.asdict(result.stats) == data["stats"]
    assert result.ok == (result.verdict is haplan.Verdict.OK)
    assert sum(p.count for p in result.placement) == result.max_additional
    assert_report_matches(result.check, data["check"])
    assert str(result.check) in str(result)
