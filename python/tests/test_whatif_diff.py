"""``Pool.whatif`` and ``Pool.diff`` beyond the fixture runs: the forms
changes come in, the changed pool, bad changes, the diff policy, time
limits, text, repr and HTML, threads."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest

import haplan
from conftest import FIXTURES, html_text

RACK = FIXTURES / "whatif" / "rack.json"
BASE = FIXTURES / "diff" / "base.json"
RETIRE_H4: List[Dict[str, Any]] = [{"op": "remove_host", "name": "h4", "vms": "move", "to": "h3"}]
GROW: List[Dict[str, Any]] = [
    {"op": "add_host", "host": {"name": "h5", "capacity": {"memory_mib": 131072}}},
    {"op": "set_tolerance", "k": 2},
]


@pytest.fixture(scope="module")
def rack() -> haplan.Pool:
    return haplan.Pool.load(RACK)


def without_stats(data: Dict[str, Any], *keys: str) -> Dict[str, Any]:
    for key in keys:
        data[key].pop("stats")
    return data


# -- whatif: the changes ---------------------------------------------------


def test_changes_as_list_tuple_text_or_bytes(rack: haplan.Pool) -> None:
    text = json.dumps(GROW)
    reports = [
        rack.whatif(GROW),
        rack.whatif(tuple(GROW)),
        rack.whatif(text),
        rack.whatif(text.encode()),
    ]
    first = without_stats(reports[0].to_dict(), "before", "after")
    for r in reports[1:]:
        assert without_stats(r.to_dict(), "before", "after") == first
    assert first["changes"] == ["add host h5", "set host_failures_to_tolerate 2"]


def test_whatif_report(rack: haplan.Pool) -> None:
    r = rack.whatif(RETIRE_H4)
    assert isinstance(r, haplan.WhatIfReport)
    assert r.pool == "rack" and r.changes == ["remove host h4 (its VMs move to h3)"]
    assert not r.ok and r.verdict is haplan.Verdict.NOT_OK and r.exit_code == 1
    assert isinstance(r.before, haplan.Report) and isinstance(r.after, haplan.Report)
    assert (r.before.max_tolerable, r.after.max_tolerable) == (1, 0)
    assert r.before.ok and r.before.verdict is haplan.Verdict.OK
    assert r.after.witness is not None and r.after.witness.unplaced == ["db1"]
    assert repr(r) == (
        "<WhatIfReport OVERCOMMITTED: after 1 change, pool rack tolerates 0 host failures "
        "(configured: 1); before the changes: 1 host failure>"
    )
    assert str(r).startswith(repr(r)[len("<WhatIfReport ") : -1] + "\nChanges:\n  changes[0]: remove host h4")
    page = r._repr_html_()
    text = html_text(page)
    assert "remove host h4" in text and "Before the changes" in text and "OVERCOMMITTED" in text
    with pytest.raises(AttributeError):
        r.ok = True  # type: ignore[misc]


def test_tolerate_is_k_for_both(rack: haplan.Pool) -> None:
    r = rack.whatif(GROW, tolerate=0)
    assert (r.before.configured, r.after.configured) == (0, 0)
    r = rack.whatif(GROW)
    assert (r.before.configured, r.after.configured) == (1, 2)


def test_no_changes(rack: haplan.Pool) -> None:
    r = rack.whatif([])
    assert r.changes == [] and r.changed_pool == rack
    assert str(r).startswith("OK: after 0 changes, pool rack tolerates 1 host failure")
    assert without_stats(r.to_dict(), "before", "after")["before"] == without_stats(r.to_dict(), "before", "after")["after"]


# -- whatif: the changed pool ----------------------------------------------


def test_changed_pool_can_be_asked_again(rack: haplan.Pool) -> None:
    r = rack.whatif(GROW)
    changed = r.changed_pool
    assert isinstance(changed, haplan.Pool)
    assert changed.hosts == ["h1", "h2", "h3", "h4", "h5"] and changed.host_failures_to_tolerate == 2
    # Its own check is the report's `after`.
    again = changed.check()
    assert without_stats({"a": again.to_dict()}, "a") == without_stats({"a": r.after.to_dict()}, "a")
    assert changed.plan(failed=["h1", "h2"]).complete
    # Its JSON is the changed pool file: it reads back as the same pool.
    assert haplan.Pool.from_json(changed.to_json()) == changed
    assert changed.to_dict()["hosts"][4] == GROW[0]["host"]
    assert pickle.loads(pickle.dumps(changed)) == changed
    # It can be changed again, and compared with the original.
    r2 = changed.whatif([{"op": "maintenance", "name": "h5"}])
    assert r2.before.max_tolerable == 2 and r2.after.max_tolerable == 1
    d = rack.diff(changed)
    assert d.hosts_added == ["h5"] and d.ok


def test_the_pool_itself_does_not_change(rack: haplan.Pool) -> None:
    before = rack.to_json()
    rack.whatif(RETIRE_H4)
    assert rack.to_json() == before and rack == haplan.Pool.load(RACK)
    assert "h4" in rack.hosts


def test_whatif_on_a_pool_from_dict() -> None:
    pool = haplan.Pool.from_dict(json.loads(RACK.read_text(encoding="utf-8")))
    r = pool.whatif(RETIRE_H4)
    assert r.after.max_tolerable == 0 and r.changed_pool.hosts == ["h1", "h2", "h3"]


# -- whatif: bad changes ---------------------------------------------------


def problems(error: haplan.InvalidChangesError) -> List[List[str]]:
    return [[p.path, p.message] for p in error.problems]


def test_bad_changes_raise_with_every_problem_at_its_change(rack: haplan.Pool) -> None:
    with pytest.raises(haplan.InvalidChangesError) as caught:
        rack.whatif(
            [
                {"op": "remove_host", "name": "h4"},
                {"op": "resize_vm", "name": "db9", "demand": {"memory_mib": 1}},
                {"op": "resize_host", "name": "h1", "capacity": {"memory_mib": -1}},
                {"op": "set_tolerance"},
            ],
            source="changes.json",
        )
    err = caught.value
    assert problems(err) == [
        [
            "changes[0].name",
            'host "h4" has 2 VMs (app3, batch1); say what happens to them: "vms": "remove", or "vms": "move" with "to"',
        ],
        ["changes[1].name", 'unknown VM "db9"'],
        ["changes[2].capacity.memory_mib", "must not be negative, found -1"],
        ["changes[3].k", 'missing required field "k"'],
    ]
    assert str(err).startswith("changes.json: invalid changes (4 problems)\n  changes[0].name: host")
    assert all(isinstance(p, haplan.Problem) for p in err.problems)


def test_changes_error_hierarchy_and_pickle(rack: haplan.Pool) -> None:
    assert issubclass(haplan.InvalidChangesError, haplan.HaplanError)
    assert issubclass(haplan.InvalidChangesError, ValueError)
    assert not issubclass(haplan.InvalidChangesError, haplan.InvalidPoolError)
    with pytest.raises(haplan.InvalidChangesError) as caught:
        rack.whatif([{"op": "remove_vm", "name": "nope"}])
    assert str(caught.value) == 'invalid changes (1 problem)\n  changes[0].name: unknown VM "nope"'
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is haplan.InvalidChangesError
    assert str(copy) == str(caught.value) and copy.problems == caught.value.problems


def test_later_changes_see_earlier_ones(rack: haplan.Pool) -> None:
    with pytest.raises(haplan.InvalidChangesError) as caught:
        rack.whatif([{"op": "remove_vm", "name": "db1"}, {"op": "resize_vm", "name": "db1", "demand": {"memory_mib": 1}}])
    assert problems(caught.value) == [["changes[1].name", 'unknown VM "db1"']]


def test_change_json_syntax_error_has_line_and_column(rack: haplan.Pool) -> None:
    with pytest.raises(haplan.InvalidChangesError) as caught:
        rack.whatif('[\n  {"op": "maintenance", "name": "h1"},\n')
    (p,) = caught.value.problems
    assert p.path == "" and p.line == 3 and p.column is not None
    assert p.message.startswith("invalid JSON:")


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"op": "maintenance", "name": "h1"}, [["", "expected a list of changes, found an object"]]),
        (["maintenance"], [["changes[0]", "expected a change object, found a string"]]),
        (
            [{"op": "resize_vm", "name": "db1", "demand": {"memory_mib": float("nan")}}],
            [["changes[0].demand.memory_mib", "not a finite number: NaN"]],
        ),
        ([{"op": "add_vm", "vm": {1: 2}}], [["changes[0].vm", "keys must be strings, found int 1"]]),
        ({"h1", "h2"}, [["", "not a JSON value: found a set"]]),
    ],
)
def test_changes_data_problems_have_paths(rack: haplan.Pool, changes: Any, expected: List[List[str]]) -> None:
    with pytest.raises(haplan.InvalidChangesError) as caught:
        rack.whatif(changes)
    assert problems(caught.value) == expected


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"tolerate": -1}, ValueError),
        ({"tolerate": "1"}, TypeError),
        ({"time_limit_s": -1}, ValueError),
        ({"threads": 0}, ValueError),
        ({"source": 3}, TypeError),
    ],
)
def test_whatif_argument_errors(rack: haplan.Pool, kwargs: Dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        rack.whatif([], **kwargs)


# -- diff ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> haplan.Pool:
    return haplan.Pool.load(BASE)


def test_no_regress_decides(base: haplan.Pool) -> None:
    """drop-host tolerates 1 (K = 1) where base tolerated 2: ok, unless
    no_regress."""
    new = haplan.Pool.load(FIXTURES / "diff" / "drop-host.json")
    plain = base.diff(new)
    assert plain.ok and plain.verdict is haplan.Verdict.OK and plain.exit_code == 0
    assert plain.regressed is True and plain.reasons == [] and not plain.no_regress
    strict = base.diff(new, no_regress=True)
    assert not strict.ok and strict.verdict is haplan.Verdict.NOT_OK and strict.exit_code == 1
    assert strict.regressed is True and strict.no_regress
    assert strict.reasons == [
        "it tolerates 1 host failure, fewer than the 2 host failures it tolerated before (--no-regress)"
    ]
    assert strict.hosts_removed == ["h4"] and strict.hosts_added == []
    assert (strict.old.max_tolerable, strict.new.max_tolerable, strict.tolerate) == (2, 1, 1)
    assert repr(strict) == (
        "<DiffReport NOT OK: pool diff-pool tolerates 1 host failure "
        "(before: 2 host failures; required: 1 and no regression)>"
    )
    # No regression the other way round.
    back = new.diff(base, no_regress=True)
    assert back.ok and back.regressed is False and back.hosts_added == ["h4"]


def test_diff_with_itself_and_tolerate(base: haplan.Pool) -> None:
    same = base.diff(base, no_regress=True)
    assert same.ok and same.regressed is False
    assert same.hosts_added == same.hosts_removed == same.vms_added == same.vms_removed == []
    hard = base.diff(base, tolerate=3, no_regress=True)
    assert not hard.ok and hard.exit_code == 1 and hard.regressed is False
    assert hard.old.configured == hard.new.configured == 3
    assert hard.reasons == ["it tolerates 2 host failures, fewer than the 3 required"]


def test_diff_lists_what_changed(base: haplan.Pool) -> None:
    d = base.diff(haplan.Pool.load(FIXTURES / "diff" / "lost-protection.json"))
    assert not d.ok and d.exit_code == 1 and d.regressed is False
    assert d.hosts_added == ["h5"] and d.vms_added == ["e1"]
    assert d.vms_removed == d.removed_protected == ["b1"]
    assert d.lost_protection == [haplan.LostProtection("a1", "best_effort")]
    assert [n.vm for n in d.newly_not_agile] == ["c1"]
    assert all(isinstance(n, haplan.NotAgile) for n in d.newly_not_agile)
    page = d._repr_html_()
    text = html_text(page)
    assert "a1 (now best_effort)" in text and "Protected VMs newly not agile" in text and "<details>" in page


def test_diff_undecided_after_a_time_limit() -> None:
    """With no time, the bounds of ffd-fails-exact-fits (0 to 1 against
    K = 1) do not settle NEW's check; a pool against itself cannot have
    regressed (``no_worse``), whatever the bounds."""
    pool = haplan.Pool.load(FIXTURES / "packing" / "ffd-fails-exact-fits.json")
    d = pool.diff(pool, time_limit_s=0, no_regress=True)
    assert not d.old.exact and not d.new.exact
    assert d.verdict is haplan.Verdict.UNDECIDED and d.exit_code == 3 and not d.ok
    assert d.no_worse and d.regressed is False and d.to_dict()["regressed"] is False
    assert str(d).startswith("UNDECIDED: ")
    w = pool.whatif([], time_limit_s=0)
    assert w.verdict is haplan.Verdict.UNDECIDED and w.exit_code == 3 and not w.after.exact


def test_diff_argument_errors(base: haplan.Pool) -> None:
    with pytest.raises(TypeError):
        base.diff(BASE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        base.diff(base.to_json())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        base.diff(base, tolerate=-1)
    with pytest.raises(ValueError):
        base.diff(base, time_limit_s=float("nan"))


def test_html_escapes_names() -> None:
    pool = haplan.Pool.from_dict(
        {
            "name": "<b>rack</b>",
            "hosts": [{"name": "h<1>", "capacity": {"m": 4}}, {"name": "h&2", "capacity": {"m": 4}}],
            "vms": [{"name": "v<script>", "host": "h<1>", "demand": {"m": 3}}],
        }
    )
    w = pool.whatif([{"op": "remove_vm", "name": "v<script>"}])
    d = pool.diff(w.changed_pool)
    for page in (w._repr_html_(), d._repr_html_()):
        assert "<script>" not in page and "<b>rack" not in page
    assert "&lt;script&gt;" in d._repr_html_()


# -- threads ------------------------------------------------------------------


def test_many_threads_same_answers(rack: haplan.Pool, base: haplan.Pool, big_pool: haplan.Pool) -> None:
    new = haplan.Pool.load(FIXTURES / "diff" / "lost-protection.json")
    big_changes = [{"op": "maintenance", "name": h} for h in big_pool.hosts[:3]]

    def answer(i: int) -> Dict[str, Any]:
        if i % 3 == 0:
            return without_stats(rack.whatif(RETIRE_H4, explain=True).to_dict(), "before", "after")
        if i % 3 == 1:
            return without_stats(base.diff(new, no_regress=True).to_dict(), "old", "new")
        return without_stats(big_pool.whatif(big_changes).to_dict(), "before", "after")

    expected = [answer(i) for i in range(3)]
    with ThreadPoolExecutor(6) as ex:
        got = list(ex.map(answer, range(30)))
    assert got == [expected[i % 3] for i in range(30)]
