"""``Pool.timing`` beyond the fixture runs: the report's attributes,
the worst case against a brute force over every failure set written here,
``fail``, a pool that does not tolerate K, boot times kept through
conversions and pickling, bad arguments, text, repr and HTML."""

from __future__ import annotations

import dataclasses
import itertools
import json
import pickle
from typing import Any, Dict, List, Optional, Tuple

import pytest

import haplan
from conftest import FIXTURES

GROUPS = FIXTURES / "timing" / "groups.json"
TIGHT = FIXTURES / "timing" / "tight.json"
PRIORITY = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@pytest.fixture(scope="module")
def groups() -> haplan.Pool:
    return haplan.Pool.load(GROUPS)


def schedule(jobs: List[Dict[str, Any]], limit: Optional[int]) -> int:
    """The makespan, simulated second by second: VMs whose boot ends run,
    then waiting VMs whose group is due start (every VM of a lower order
    runs and its delay has passed since it ran), critical first then by
    name, while fewer than ``limit`` starts are in flight."""
    start: Dict[str, int] = {}
    running: Dict[str, int] = {}
    t = 0
    while len(running) < len(jobs):
        changed = True
        while changed:
            changed = False
            for j in jobs:
                n = j["name"]
                if n not in running and n in start and start[n] + j["boot"] <= t:
                    running[n] = t
                    changed = True
            in_flight = sum(1 for n in start if n not in running)
            due = [
                j
                for j in jobs
                if j["name"] not in start
                and all(
                    o["name"] in running and running[o["name"]] + o["delay"] <= t
                    for o in jobs
                    if o["order"] < j["order"]
                )
            ]
            due.sort(key=lambda j: (j["order"], j["priority"], j["name"].encode()))
            free = len(due) if limit is None else max(0, limit - in_flight)
            for j in due[:free]:
                start[j["name"]] = t
                changed = True
        if len(running) < len(jobs):
            t += 1
    return max(running.values(), default=0)


def jobs_of(data: Dict[str, Any], failed: Tuple[str, ...], boot: int) -> List[Dict[str, Any]]:
    """The protected running VMs of the failed hosts (every VM of the
    pools used here is agile)."""
    return [
        {
            "name": v["name"],
            "order": v.get("order", 0),
            "priority": PRIORITY[v.get("priority", "medium")],
            "boot": v.get("boot_time_s", boot),
            "delay": v.get("start_delay_s", 0),
        }
        for v in data["vms"]
        if v["host"] in failed and v.get("restart", "protected") == "protected"
    ]


# -- the report ---------------------------------------------------------------


def test_report_attributes(groups: haplan.Pool) -> None:
    r = groups.timing()
    assert isinstance(r, haplan.TimingReport)
    assert r.ok and r.verdict is haplan.Verdict.OK and r.exit_code == 0
    assert (r.tolerate, r.tolerated, r.witness) == (1, True, None)
    assert (r.search, r.exact, r.sets) == ("every_set", True, 4)
    assert r.failed_hosts == ["h1"]
    assert (r.detection_s, r.fence_s, r.makespan_s, r.total_s) == (30, 0, 220, 250)
    assert r.last_vm == "web1"
    assert r.groups == [
        haplan.GroupTiming(order=0, vms=1, start_s=0, end_s=90, release_s=120),
        haplan.GroupTiming(order=1, vms=1, start_s=120, end_s=160, release_s=160),
        haplan.GroupTiming(order=2, vms=1, start_s=160, end_s=220, release_s=220),
    ]
    assert r.vms[0] == haplan.VmTiming(
        vm="db", from_="h1", host=None, order=0, priority="critical", boot_s=90, start_s=0, running_s=90
    )
    assert r.stats.scenarios == 4
    assert r.to_dict()["vms"][2]["boot_s"] == 60
    assert str(r).startswith("OK: pool groups: every restarted protected VM runs again 250 s")
    assert repr(r).startswith("<TimingReport OK: pool groups")
    html = r._repr_html_()
    assert "total_s" in html and "web1" in html


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("limit", [None, 1, 2, 3])
@pytest.mark.parametrize("boot", [0, 60])
def test_worst_case_is_the_brute_force_maximum(groups: haplan.Pool, k: int, limit: Optional[int], boot: int) -> None:
    data = json.loads(groups.to_json())
    up = ["h1", "h2", "h3", "h4"]
    want = max(
        schedule(jobs_of(data, failed, boot), limit)
        for size in range(k + 1)
        for failed in itertools.combinations(up, size)
    )
    r = groups.timing(tolerate=k, boot_time_s=boot, concurrency=limit)
    assert r.exact and r.makespan_s == want
    assert schedule(jobs_of(data, tuple(r.failed_hosts), boot), limit) == want
    assert r.total_s == (30 + want if r.vms else 0)


def test_more_concurrency_is_never_slower(groups: haplan.Pool) -> None:
    times = [groups.timing(tolerate=3, concurrency=c).makespan_s for c in range(1, 8)]
    assert times == sorted(times, reverse=True)
    assert groups.timing(tolerate=3).makespan_s == times[-1]
    assert times[0] > times[-1]


def test_fail_and_fence_time(groups: haplan.Pool) -> None:
    r = groups.timing(fail=["h2", "h3"], fence_time_s=45)
    assert (r.tolerate, r.search, r.failed_hosts) == (None, "given", ["h2", "h3"])
    assert (r.makespan_s, r.total_s, r.last_vm) == (160, 30 + 45 + 160, "batch")
    assert all(v.host is not None for v in r.vms)
    one, listed = groups.timing(fail="h1").to_dict(), groups.timing(fail=["h1"]).to_dict()
    one.pop("stats")
    listed.pop("stats")
    assert one == listed


def test_not_tolerated_has_no_estimate() -> None:
    tight = haplan.Pool.load(TIGHT)
    r = tight.timing()
    assert not r.ok and not r.tolerated and r.verdict is haplan.Verdict.NOT_OK and r.exit_code == 1
    assert r.witness is not None and r.witness.failed_hosts == ["h1"]
    assert r.witness.short is not None and r.witness.short.resource == "memory_mib"
    assert (r.search, r.total_s, r.failed_hosts, r.vms) == ("none", 0, [], [])
    given = tight.timing(fail="h1")
    assert given.exit_code == 1
    assert [v.vm for v in given.vms] == ["a"] and given.total_s == 60
    assert [n.vm for n in given.not_restarted] == ["b"]


# -- boot_time_s in the pool ----------------------------------------------------


def test_boot_time_kept_through_conversions(groups: haplan.Pool) -> None:
    data = json.loads(groups.to_json())
    assert data["vms"][0]["boot_time_s"] == 90
    again = haplan.Pool.from_dict(data)
    assert again == groups
    assert json.loads(pickle.loads(pickle.dumps(groups)).to_json())["vms"][0]["boot_time_s"] == 90
    changed = groups.whatif([{"op": "resize_vm", "name": "db", "demand": {"memory_mib": 8192}}]).changed_pool
    assert changed.timing().vms[0].boot_s == 90
    data["vms"][0]["boot_time_s"] = 10
    # {h1}: db 0-10, gate 10 + 30 = 40, app1 40-80, web1 80-140 (> {h2}'s 130).
    assert haplan.Pool.from_dict(data).timing().makespan_s == 140


def test_bad_boot_time_in_the_pool(groups: haplan.Pool) -> None:
    data = json.loads(groups.to_json())
    data["vms"][0]["boot_time_s"] = -1
    with pytest.raises(haplan.InvalidPoolError) as caught:
        haplan.Pool.from_dict(data)
    assert caught.value.problems[0].path == "vms[0].boot_time_s"


# -- bad arguments ----------------------------------------------------------------


def test_bad_arguments(groups: haplan.Pool) -> None:
    with pytest.raises(haplan.QueryError, match='--fail: unknown host "h9"'):
        groups.timing(fail=["h1", "h9"])
    with pytest.raises(haplan.QueryError, match="maintenance"):
        groups.timing(fail="m1")
    with pytest.raises(ValueError, match="concurrency: must be from 1 to 4294967295, found 0"):
        groups.timing(concurrency=0)
    with pytest.raises(ValueError, match="boot_time_s: must be from 0 to 4294967295, found -5"):
        groups.timing(boot_time_s=-5)
    with pytest.raises(TypeError, match="fence_time_s"):
        groups.timing(fence_time_s=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tolerate and fail"):
        groups.timing(tolerate=1, fail="h1")
    with pytest.raises(TypeError):
        groups.timing(fail=[1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="threads"):
        groups.timing(threads=0)


def test_threads_give_the_same_answer(groups: haplan.Pool) -> None:
    first = groups.timing(tolerate=2).to_dict()
    first.pop("stats")
    for t in (1, 2, 3):
        r = groups.timing(tolerate=2, threads=t).to_dict()
        r.pop("stats")
        assert r == first


def test_reports_compare_by_value(groups: haplan.Pool) -> None:
    a, b = groups.timing(), groups.timing()
    assert dataclasses.replace(a, stats=b.stats) == b
