"""``Pool.headroom`` beyond the fixture runs: the forms the VM comes in,
the report's attributes, bad shapes, time limits, text, repr and HTML,
pickling of errors, threads."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest

import haplan
from conftest import FIXTURES, html_text

RACK = FIXTURES / "headroom" / "rack.json"
VM: Dict[str, Any] = {"memory_mib": 32768, "vcpus": 4}


@pytest.fixture(scope="module")
def rack() -> haplan.Pool:
    return haplan.Pool.load(RACK)


def without_stats(data: Dict[str, Any]) -> Dict[str, Any]:
    data.pop("stats")
    data["check"].pop("stats")
    return data


def problems(error: haplan.InvalidShapeError) -> List[List[str]]:
    return [[p.path, p.message] for p in error.problems]


# -- the VM -------------------------------------------------------------------


def test_vm_as_dict_text_or_bytes(rack: haplan.Pool) -> None:
    text = json.dumps(VM)
    reports = [rack.headroom(VM), rack.headroom(text), rack.headroom(text.encode())]
    first = without_stats(reports[0].to_dict())
    for r in reports[1:]:
        assert without_stats(r.to_dict()) == first
    assert first["vm"] == {"demand": VM, "storage": [], "networks": []}


def test_headroom_report(rack: haplan.Pool) -> None:
    r = rack.headroom(VM)
    assert isinstance(r, haplan.HeadroomReport)
    assert (r.pool, r.tolerate, r.max_additional, r.upper_bound, r.exact) == ("rack", 1, 12, 12, True)
    assert r.ok and r.verdict is haplan.Verdict.OK and r.exit_code == 0
    assert r.vm == haplan.VmShape(demand=VM, storage=[], networks=[])
    assert r.placement == [haplan.HostCount(h, 3) for h in ("h1", "h2", "h3", "h4")]
    assert r.limit == haplan.HeadroomLimit("aggregate", r.limit.reason, ["h1"])
    assert r.limit.reason.startswith("counting whole slots of 32768 memory_mib")
    assert [(h.host, h.room, h.fits_here, h.fits_here_upper, h.reason) for h in r.hosts] == [
        ("h1", 4, 4, 4, None),
        ("h2", 5, 5, 5, None),
        ("h3", 4, 4, 4, None),
        ("h4", 7, 7, 7, None),
    ]
    assert isinstance(r.check, haplan.Report) and r.check.max_tolerable == 2 and r.check.configured == 1
    assert isinstance(r.stats, haplan.HeadroomStats) and r.stats.checks >= 1
    # The attributes are the JSON fields.
    data = r.to_dict()
    for key in ("pool", "tolerate", "ok", "max_additional", "upper_bound", "exact"):
        assert getattr(r, key) == data[key], key
    assert [{"host": p.host, "count": p.count} for p in r.placement] == data["placement"]
    assert [vars(h) for h in r.hosts] == data["hosts"]
    assert vars(r.limit) == data["limit"]
    assert r.check.to_dict() == data["check"]
    assert r.to_dict() is not r.to_dict()
    # Text, repr, HTML.
    first = "OK: pool rack can start 12 more VMs of memory_mib 32768, vcpus 4 and still tolerate 1 host failure"
    assert repr(r) == f"<HeadroomReport {first}>"
    assert str(r).startswith(first + "\nPlacement: h1 3, h2 3, h3 3, h4 3\nWhy not 13: ")
    assert str(r.check) in str(r)
    page = r._repr_html_()
    text = html_text(page)
    assert "<table" in page and "<details" in page and "12 more can start" in text and "Why not 13" in text
    assert '"/placement/0/host">h1<' in page and '"/placement/0/count">3<' in page
    with pytest.raises(AttributeError):
        r.ok = False  # type: ignore[misc]


def test_storage_networks_and_tolerate(rack: haplan.Pool) -> None:
    dmz = rack.headroom(VM, networks="dmz")
    assert dmz.vm.networks == ["dmz"] and dmz.max_additional == 4
    assert {p.host for p in dmz.placement} <= {"h1", "h2"}
    local = rack.headroom(VM, storage=("nfs", "local-h4"))
    assert local.vm.storage == ["local-h4", "nfs"] and local.max_additional == 0 and local.ok
    assert local.hosts[0].reason == "cannot reach storage local-h4"
    assert rack.headroom(VM, tolerate=2).max_additional == 4


def test_overcommitted_pool_has_no_headroom() -> None:
    pool = haplan.Pool.load(FIXTURES / "headroom" / "overcommitted.json")
    r = pool.headroom({"memory_mib": 8192})
    assert r.max_additional == 0 and not r.ok
    assert r.verdict is haplan.Verdict.NOT_OK and r.exit_code == 1
    assert r.limit.kind == "not_tolerated" and r.check.witness is not None
    assert str(r).startswith("OVERCOMMITTED: ")
    assert pool.headroom({"memory_mib": 8192}, tolerate=0).max_additional == 4


def test_time_limit_leaves_proved_bounds(rack: haplan.Pool) -> None:
    r = rack.headroom(VM, time_limit_s=0)
    assert not r.exact and r.max_additional <= 12 <= r.upper_bound
    assert r.verdict is haplan.Verdict.UNDECIDED and r.exit_code == 3 and not r.ok
    assert str(r).startswith("UNDECIDED: ")


# -- bad shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "vm, kwargs, expected",
    [
        (
            {"memory_mib": -1, "vcpus": 2.5},
            {},
            [["--vm.memory_mib", "must not be negative, found -1"], ["--vm.vcpus", "must be an integer, found 2.5"]],
        ),
        (
            {"memory": 1, "vcpus": 1},
            {},
            [["--vm.memory", 'unknown resource "memory"; did you mean "memory_mib"? the pool\'s resources: memory_mib, vcpus']],
        ),
        (
            {},
            {"storage": [""]},
            [
                ["--vm", "must demand a positive amount of some resource (a VM that needs nothing fits without end)"],
                ["--storage[0]", "must not be empty"],
            ],
        ),
        ({"memory_mib": 1}, {"networks": ["prod", " "]}, [["--networks[1]", "must not be empty"]]),
        ({"memory_mib": float("inf")}, {}, [["--vm.memory_mib", "not a finite number: inf"]]),
        ([1], {}, [["--vm", "expected an object of resource amounts, found a list"]]),
    ],
)
def test_bad_shapes_raise_with_every_problem(
    rack: haplan.Pool, vm: Any, kwargs: Dict[str, Any], expected: List[List[str]]
) -> None:
    with pytest.raises(haplan.InvalidShapeError) as caught:
        rack.headroom(vm, **kwargs)
    assert problems(caught.value) == expected
    n = len(expected)
    assert str(caught.value).startswith(f"invalid VM shape ({n} problem{'' if n == 1 else 's'})\n  ")


def test_shape_json_syntax_error_has_line_and_column(rack: haplan.Pool) -> None:
    with pytest.raises(haplan.InvalidShapeError) as caught:
        rack.headroom('{"memory_mib": 32768,')
    (p,) = caught.value.problems
    assert p.path == "--vm" and (p.line, p.column) == (1, 21)
    assert p.message.startswith("invalid JSON:")


def test_shape_error_hierarchy_and_pickle(rack: haplan.Pool) -> None:
    assert issubclass(haplan.InvalidShapeError, haplan.HaplanError)
    assert issubclass(haplan.InvalidShapeError, ValueError)
    assert not issubclass(haplan.InvalidShapeError, (haplan.InvalidPoolError, haplan.QueryError))
    with pytest.raises(haplan.InvalidShapeError) as caught:
        rack.headroom({"memory_mib": -1})
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is haplan.InvalidShapeError
    assert str(copy) == str(caught.value) and copy.problems == caught.value.problems


def test_too_small_a_vm_is_a_query_error(rack: haplan.Pool) -> None:
    with pytest.raises(haplan.QueryError) as caught:
        rack.headroom({"memory_mib": 1})
    assert str(caught.value).startswith("--vm: so small a VM could fit more than 100000 times")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"tolerate": -1}, ValueError),
        ({"tolerate": "1"}, TypeError),
        ({"time_limit_s": -1}, ValueError),
        ({"threads": 0}, ValueError),
        ({"storage": [1]}, TypeError),
        ({"networks": 3}, TypeError),
    ],
)
def test_headroom_argument_errors(rack: haplan.Pool, kwargs: Dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        rack.headroom(VM, **kwargs)


def test_html_escapes_names() -> None:
    pool = haplan.Pool.from_dict(
        {
            "name": "<b>rack</b>",
            "hosts": [{"name": "h<1>", "capacity": {"m": 4}}, {"name": "h&2", "capacity": {"m": 4}}],
            "vms": [{"name": "v<script>", "host": "h<1>", "demand": {"m": 1}}],
        }
    )
    page = pool.headroom({"m": 1})._repr_html_()
    assert "<script>" not in page and "<b>rack" not in page and "h&lt;1&gt;" in page


# -- threads ------------------------------------------------------------------


def test_many_threads_same_answers(rack: haplan.Pool) -> None:
    shapes = [VM, {"memory_mib": 65536}, {"memory_mib": 16384, "vcpus": 2}]

    def answer(i: int) -> Dict[str, Any]:
        return without_stats(rack.headroom(shapes[i % 3], threads=1 + i % 2).to_dict())

    expected = [answer(i) for i in range(3)]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(answer, range(12)))
    assert got == [expected[i % 3] for i in range(12)]
