"""Bad input raises, with details; an overcommit is a Report, never an
exception."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Dict

import pytest

import haplan
from conftest import FIXTURES


def small() -> Dict[str, Any]:
    return {
        "name": "two",
        "hosts": [
            {"name": "h1", "capacity": {"memory_mib": 262144}},
            {"name": "h2", "capacity": {"memory_mib": 262144}},
        ],
        "vms": [
            {"name": "a", "host": "h1", "demand": {"memory_mib": 122880}},
            {"name": "b", "host": "h2", "demand": {"memory_mib": 122880}},
        ],
    }


def test_hierarchy() -> None:
    assert issubclass(haplan.InvalidPoolError, haplan.HaplanError)
    assert issubclass(haplan.QueryError, haplan.HaplanError)
    # Both are bad values, so code catching ValueError catches them too.
    assert issubclass(haplan.InvalidPoolError, ValueError)
    assert issubclass(haplan.QueryError, ValueError)


def test_many_problems_all_reported_with_paths() -> None:
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.load(FIXTURES / "bad" / "many-problems.json")
    err = caught.value
    assert len(err.problems) == 9
    assert all(isinstance(p, haplan.Problem) for p in err.problems)
    paths = [p.path for p in err.problems]
    assert paths == [
        "owner",
        "ha.mode",
        "hosts[1].capacity.memory_mib",
        "vms[0].demand.memory_mib",
        "vms[2].priority",
        "vms[3].demand",
        "hosts[2].name",
        "vms[1].host",
        "vms[2].name",
    ]
    assert err.problems[7].message == 'unknown host "h9"'
    assert str(err).startswith(str(FIXTURES / "bad" / "many-problems.json") + ": invalid pool (9 problems)\n")


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.from_json('{\n  "name": "x",\n  "hosts": [\n}')
    (p,) = caught.value.problems
    assert p.path == ""
    assert p.line == 4 and p.column is not None
    assert p.message.startswith("invalid JSON:")
    assert str(p).startswith("line 4, column ")


def test_from_dict_rejects_what_json_cannot_hold() -> None:
    data = small()
    data["hosts"][0]["capacity"]["memory_mib"] = float("nan")
    data["vms"][1]["labels"] = {1, 2}
    data["hosts"][1]["capacity"] = {("a", 1): 5}
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.from_dict(data)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("hosts[0].capacity.memory_mib", "not a finite number: NaN"),
        ("hosts[1].capacity", "keys must be strings, found tuple ('a', 1)"),
        ("vms[1].labels", "not a JSON value: found a set"),
    ]


def test_from_dict_accepts_tuples_and_whole_floats() -> None:
    data = small()
    data["hosts"] = tuple(data["hosts"])
    data["vms"][0]["demand"]["memory_mib"] = 122880.0
    pool = haplan.Pool.from_dict(data)
    assert pool == haplan.Pool.from_dict(small())


def test_from_dict_huge_int_is_a_problem_not_a_crash() -> None:
    data = small()
    data["vms"][0]["demand"]["memory_mib"] = 10**30
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.from_dict(data)
    assert [p.path for p in caught.value.problems] == ["vms[0].demand.memory_mib"]


def test_from_dict_needs_a_mapping_at_the_top() -> None:
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.from_dict([1, 2])  # type: ignore[arg-type]
    assert caught.value.problems[0].path == ""


def test_load_missing_file_is_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        haplan.Pool.load(tmp_path / "nope.json")


def test_from_json_accepts_bytes() -> None:
    text = (FIXTURES / "basic" / "demo.json").read_text(encoding="utf-8")
    assert haplan.Pool.from_json(text.encode()) == haplan.Pool.from_json(text)


def test_overcommit_is_a_report() -> None:
    pool = haplan.Pool.load(FIXTURES / "citrix" / "two-hosts-two-vms-each.json")
    report = pool.check()
    assert not report.ok
    assert report.verdict is haplan.Verdict.NOT_OK
    assert report.exit_code == 1
    assert report.max_tolerable == 0 and report.configured == 1
    assert report.witness is not None
    assert report.witness.failed_hosts == ["xen1"]
    assert report.witness.unplaced == ["vm1a", "vm1b"]
    assert report.witness.short == haplan.Short("memory_mib", 245760, 16384, 229376)


def test_plan_unknown_or_maintenance_host_raises() -> None:
    pool = haplan.Pool.load(FIXTURES / "constraints" / "maintenance.json")
    with pytest.raises(haplan.QueryError, match='unknown host "h9"'):
        pool.plan(failed=["h1", "h9"])
    with pytest.raises(haplan.QueryError, match="maintenance"):
        pool.plan(failed="h3")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"tolerate": -1}, ValueError),
        ({"tolerate": 1.5}, TypeError),
        ({"tolerate": True}, TypeError),
        ({"time_limit_s": -1}, ValueError),
        ({"time_limit_s": float("inf")}, ValueError),
        ({"time_limit_s": "1"}, TypeError),
        ({"threads": 0}, ValueError),
        ({"strategy": "guess"}, ValueError),
    ],
)
def test_check_argument_errors(kwargs: Dict[str, Any], error: type) -> None:
    pool = haplan.Pool.from_dict(small())
    with pytest.raises(error):
        pool.check(**kwargs)


def test_plan_argument_errors() -> None:
    pool = haplan.Pool.from_dict(small())
    with pytest.raises(TypeError):
        pool.plan(failed=[1])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        pool.plan(failed=["h1"], time_limit_s=-2)


def test_pool_cannot_be_built_directly() -> None:
    with pytest.raises(TypeError):
        haplan.Pool("{}")  # type: ignore[arg-type]


def test_errors_pickle() -> None:
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.load(FIXTURES / "bad" / "many-problems.json")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert copy.problems == caught.value.problems
