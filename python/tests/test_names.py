"""One name per concept on every surface: the methods, options and
attributes are named as the command line, the JSON answers and the C ABI
name them (``whatif``, ``timing``, ``boot_time_s``, ``fence_time_s``,
``time_limit_s``, ``max_time_s``, ``from`` as ``from_``), and the names of
the previous release still work for one more, each with a
:class:`DeprecationWarning` naming its replacement."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Tuple

import pytest

import haplan
from conftest import FIXTURES
from test_budget import knife

GROUPS = FIXTURES / "timing" / "groups.json"
SPREAD = FIXTURES / "drain" / "spread.json"
CHANGES: List[Dict[str, Any]] = [{"op": "maintenance", "name": "h1"}]


def timing_fields(r: haplan.TimingReport) -> Dict[str, Any]:
    data = r.to_dict()
    data.pop("stats")
    return data


def test_new_names_do_not_warn() -> None:
    groups = haplan.Pool.load(GROUPS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = groups.timing(tolerate=1, boot_time_s=30, fence_time_s=5)
        assert [v.from_ for v in r.vms] == [v["from"] for v in r.to_dict()["vms"]]
        w = groups.whatif(CHANGES)
        d = haplan.Pool.load(SPREAD).drain("h1", time_limit_s=30, max_time_s=1)
        groups.check(None, 30, max_time_s=None)
        assert haplan.DEFAULT_TIME_LIMIT_S == 60.0 and haplan.DEFAULT_MAX_TIME_S == 2.0
        assert [m.from_ for m in d.moves] == [m["from"] for m in d.to_dict()["moves"]]
    assert r.boot_time_s == 30 and r.fence_s == 5
    assert w.changed_pool.to_dict()["hosts"][0]["state"] == "maintenance"


def test_what_if_is_whatif_and_warns() -> None:
    groups = haplan.Pool.load(GROUPS)
    with pytest.warns(DeprecationWarning, match=r"Pool\.what_if is deprecated .* use Pool\.whatif"):
        old = groups.what_if(CHANGES, tolerate=1)
    new = groups.whatif(CHANGES, tolerate=1)
    assert (old.verdict, old.before.max_tolerable, old.after.max_tolerable) == (
        new.verdict,
        new.before.max_tolerable,
        new.after.max_tolerable,
    )
    assert old.changed_pool == new.changed_pool


def test_restart_time_is_timing_with_its_old_keywords_and_warns() -> None:
    groups = haplan.Pool.load(GROUPS)
    new = timing_fields(groups.timing(tolerate=2, boot_time_s=45, fence_time_s=20, concurrency=2))
    with pytest.warns(DeprecationWarning, match=r"Pool\.restart_time is deprecated .* use Pool\.timing"):
        by_keyword = groups.restart_time(tolerate=2, boot_time=45, fence_time=20, concurrency=2)
    with pytest.warns(DeprecationWarning):
        by_position = groups.restart_time(2, 45, 2, 20)
    with pytest.warns(DeprecationWarning):
        by_new_keyword = groups.restart_time(tolerate=2, boot_time_s=45, fence_time_s=20, concurrency=2)
    assert timing_fields(by_keyword) == timing_fields(by_position) == timing_fields(by_new_keyword) == new
    assert new["boot_time_s"] == 45 and new["fence_s"] == 20


def test_restart_time_refuses_an_option_given_twice() -> None:
    groups = haplan.Pool.load(GROUPS)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="both boot_time and boot_time_s"):
        groups.restart_time(boot_time=10, boot_time_s=20)


def test_restart_time_checks_its_old_keywords_as_timing_does() -> None:
    groups = haplan.Pool.load(GROUPS)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="boot_time_s: must be from 0"):
        groups.restart_time(boot_time=-1)


def test_from_host_is_from_and_warns() -> None:
    move = haplan.Pool.load(SPREAD).drain("h1").moves[0]
    with pytest.warns(DeprecationWarning, match=r"Move\.from_host is deprecated .* use Move\.from_"):
        assert move.from_host == move.from_ == "h1"
    vm = haplan.Pool.load(GROUPS).timing().vms[0]
    with pytest.warns(DeprecationWarning, match=r"VmTiming\.from_host is deprecated .* use VmTiming\.from_"):
        assert vm.from_host == vm.from_


def test_the_warning_points_at_the_caller() -> None:
    """``stacklevel``: the warning names this file, where the old name is
    used, not haplan's own code."""
    groups = haplan.Pool.load(GROUPS)
    with pytest.warns(DeprecationWarning) as caught:
        groups.what_if([])
    with pytest.warns(DeprecationWarning) as caught_attr:
        _ = groups.timing().vms[0].from_host
    assert [w.filename for w in caught] == [__file__]
    assert [w.filename for w in caught_attr] == [__file__]


def test_time_limit_and_max_time_are_the_s_names_and_warn() -> None:
    """The old keywords reach the search: ``max_time=0`` stops at K as
    ``max_time_s=0`` does, ``time_limit=0`` stops the search for the
    maximum as ``time_limit_s=0`` does."""
    pool = haplan.Pool.from_dict(knife())
    new = pool.check(max_time_s=0)
    assert new.stopped_by == "max_time" and new.stats.scenarios == 0
    with pytest.warns(DeprecationWarning, match=r"Pool\.check\(max_time=\.\.\.\) is deprecated .* use max_time_s=") as w:
        old = pool.check(max_time=0)
    assert len(w) == 1 and "the JSON answers and the C ABI" in str(w[0].message)
    assert (old.verdict, old.stopped_by, old.stats.scenarios) == (new.verdict, new.stopped_by, 0)
    with pytest.warns(DeprecationWarning, match=r"Pool\.check\(time_limit=\.\.\.\) is deprecated .* use time_limit_s="):
        old = pool.check(time_limit=0)
    assert old.stopped_by == pool.check(time_limit_s=0).stopped_by == "time_limit" and not old.exact
    changes: List[Dict[str, Any]] = [{"op": "set_priority", "name": "vm00-0", "priority": "high"}]
    questions: List[Tuple[str, Callable[..., Any]]] = [
        ("whatif", lambda **o: pool.whatif(changes, **o).after),
        ("diff", lambda **o: pool.diff(pool, **o).new),
        ("headroom", lambda **o: pool.headroom({"memory_mib": 10240}, **o).check),
        ("drain", lambda **o: pool.drain("h00", **o).end_state),
        ("tiers", lambda **o: pool.tiers(**o).tiers[0]),
    ]
    for name, ask in questions:
        with pytest.warns(DeprecationWarning, match=rf"Pool\.{name}\(max_time=\.\.\.\)"):
            stopped = ask(max_time=0)
        assert not stopped.exact, name
        with pytest.warns(DeprecationWarning, match=rf"Pool\.{name}\(time_limit=\.\.\.\)"):
            ask(time_limit=30)
    limited: List[Tuple[str, Callable[..., Any]]] = [
        ("plan", lambda **o: pool.plan(["h00"], **o)),
        ("timing", lambda **o: pool.timing(**o)),
    ]
    for name, ask in limited:
        with pytest.warns(DeprecationWarning, match=rf"Pool\.{name}\(time_limit=\.\.\.\)"):
            ask(time_limit=30)


def test_an_old_and_a_new_time_keyword_together_are_refused() -> None:
    pool = haplan.Pool.from_dict(knife(4, 2))
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="both time_limit and time_limit_s"):
        pool.check(time_limit=5, time_limit_s=10)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="both max_time and max_time_s"):
        pool.drain("h00", max_time=0, max_time_s=1)
    # The old name is checked as the new one is, and its error says the new name.
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="max_time_s: must be"):
        pool.check(max_time=-1)


def test_the_old_default_constants_warn() -> None:
    with pytest.warns(DeprecationWarning, match=r"haplan\.DEFAULT_TIME_LIMIT is deprecated .* use haplan\.DEFAULT_TIME_LIMIT_S") as w:
        assert haplan.DEFAULT_TIME_LIMIT == haplan.DEFAULT_TIME_LIMIT_S
    with pytest.warns(DeprecationWarning, match=r"use haplan\.DEFAULT_MAX_TIME_S"):
        assert haplan.DEFAULT_MAX_TIME == haplan.DEFAULT_MAX_TIME_S
    assert [c.filename for c in w] == [__file__]
    with pytest.raises(AttributeError, match="DEFAULT_SOMETHING"):
        haplan.DEFAULT_SOMETHING  # noqa: B018


def test_a_time_keyword_warning_points_at_the_caller() -> None:
    pool = haplan.Pool.from_dict(knife(4, 2))
    with pytest.warns(DeprecationWarning) as caught:
        pool.check(time_limit=30)
        pool.timing(time_limit=30)
    assert [w.filename for w in caught] == [__file__, __file__]
