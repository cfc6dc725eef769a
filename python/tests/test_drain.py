"""``Pool.drain`` beyond the fixture runs: the report's attributes for each
kind of answer, errors, time limits, text, repr and HTML, threads."""

from __future__ import annotations

import dataclasses
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest

import haplan
from conftest import FIXTURES

DRAIN = FIXTURES / "drain"


def load(name: str) -> haplan.Pool:
    return haplan.Pool.load(DRAIN / f"{name}.json")


def without_stats(data: Dict[str, Any]) -> Dict[str, Any]:
    data.pop("stats")
    if data["end_state"] is not None:
        data["end_state"].pop("stats")
    return data


def test_drainable_by_heuristic() -> None:
    r = load("spread").drain("h1")
    assert isinstance(r, haplan.DrainReport)
    assert (r.pool, r.host, r.tolerate, r.ok, r.outcome, r.method) == ("spread", "h1", 1, True, "drainable", "spread")
    assert r.verdict is haplan.DrainVerdict.DRAINABLE and r.exit_code == 0
    assert r.vms == ["a", "b"]
    assert r.moves == [haplan.Move("a", "h1", "h2"), haplan.Move("b", "h1", "h3")]
    assert r.blocked is None
    assert r.end_state is not None and r.end_state.max_tolerable == 1 and r.end_state.ok
    assert str(r.end_state).splitlines()[0] in str(r) or "After the drain" in str(r)
    assert r.stats.checks >= 1


def test_drainable_only_by_search() -> None:
    r = load("search-only").drain("h1")
    assert r.ok and r.method == "search"
    assert [(m.vm, m.to) for m in r.moves] == [("a", "h3"), ("b", "h2"), ("c", "h3")]
    assert r.stats.assignments >= 1


def test_blocked_by_a_vm_with_no_target() -> None:
    r = load("no-target").drain("h1")
    assert not r.ok and r.outcome == "blocked" and r.exit_code == 1
    assert r.moves == [] and r.end_state is None and r.method is None
    b = r.blocked
    assert b is not None and b.kind == "no_target"
    assert [s.vm for s in b.no_target] == ["big", "g"]
    assert b.no_target[0].hosts == [
        haplan.HostReason("h2", "has 65536 memory_mib spare, needs 98304"),
        haplan.HostReason("h3", "cannot reach storage san"),
    ]


def test_blocked_by_the_relaxation() -> None:
    r = load("tolerance").drain("h1")
    b = r.blocked
    assert b is not None and b.kind == "not_tolerated"
    assert (b.failed_hosts, b.unplaced, b.not_agile) == (["h2"], ["b"], [])
    pinned = load("pinned").drain("h1").blocked
    assert pinned is not None and [n.vm for n in pinned.not_agile] == ["d"]
    few = load("spread").drain("h1", tolerate=3)
    assert few.blocked is not None and few.blocked.failed_hosts == [] and "only 2 hosts are up" in few.reason


def test_blocked_after_every_assignment() -> None:
    r = load("exhausted").drain("h1")
    assert r.blocked is not None and r.blocked.kind == "exhausted"
    assert r.stats.assignments == 2


def test_tolerate_and_nothing_to_move() -> None:
    r = load("spread").drain("h3", tolerate=0)
    assert r.ok and r.tolerate == 0 and [m.to for m in r.moves] == ["h2"]
    empty = load("pinned").drain("h3")
    assert empty.ok and empty.moves == [] and empty.method == "nothing_to_move"


def test_time_limit_zero_is_undecided() -> None:
    r = load("search-only").drain("h1", time_limit_s=0)
    assert r.verdict is haplan.DrainVerdict.UNDECIDED and r.exit_code == 3 and r.outcome == "undecided"
    assert "time limit" in r.reason


@pytest.mark.parametrize(
    "host, message",
    [
        ("nope", 'unknown host "nope"'),
        ("h4", 'host "h4" is already in maintenance: only a host that is up can be drained'),
        ("h5", 'host "h5" is down: only a host that is up can be drained'),
    ],
)
def test_errors(host: str, message: str) -> None:
    with pytest.raises(haplan.QueryError) as caught:
        load("spread").drain(host)
    assert str(caught.value) == message
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == message


def test_bad_arguments() -> None:
    pool = load("spread")
    with pytest.raises(TypeError):
        pool.drain(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pool.drain("h1", tolerate=-1)
    with pytest.raises(ValueError):
        pool.drain("h1", time_limit_s=-1.0)


def test_attributes_are_the_json() -> None:
    for name in ("spread", "search-only", "no-target", "tolerance", "exhausted", "pinned"):
        r = load(name).drain("h1")
        data = r.to_dict()
        for key in ("pool", "host", "tolerate", "ok", "reason", "vms", "method"):
            assert getattr(r, key) == data[key], key
        assert r.outcome == data["verdict"]
        assert [{"vm": m.vm, "from": m.from_, "to": m.to} for m in r.moves] == data["moves"]
        assert dataclasses.asdict(r.stats) == data["stats"]
        if r.blocked is None:
            assert data["blocked"] is None
        else:
            assert dataclasses.asdict(r.blocked) == data["blocked"]
        assert (r.end_state is None) == (data["end_state"] is None)


def test_text_repr_html() -> None:
    r = load("spread").drain("h1")
    assert str(r).startswith("OK: host h1 of pool spread can be drained")
    assert repr(r) == f"<DrainReport {str(r).splitlines()[0]}>"
    page = r._repr_html_()
    assert "h2" in page and "After the drain" in page
    blocked = load("no-target").drain("h1")
    assert "BLOCKED" in blocked._repr_html_()


def test_threads_give_the_same_answer() -> None:
    pool = load("search-only")
    first = without_stats(pool.drain("h1").to_dict())
    with ThreadPoolExecutor(4) as ex:
        for r in ex.map(lambda t: pool.drain("h1", threads=t), [1, 2, 3, 4]):
            assert without_stats(r.to_dict()) == first
