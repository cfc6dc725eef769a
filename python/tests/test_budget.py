"""Budgets: K first, then the exact maximum within ``max_time_s``; the
defaults; ``diff`` with ``no_regress`` using what it knows. Nothing here
depends on how fast the machine is: a K-only check is told apart by the
failure sets it decided."""

from __future__ import annotations

import inspect
from typing import Any, Dict, List

import pytest

import haplan


def _range(state: List[int], lo: int, hi: int) -> int:
    """The benchmarks' SplitMix64 generator (``haplan_benches::Rng``)."""
    mask = (1 << 64) - 1
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & mask
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return lo + (z ^ (z >> 31)) % (hi - lo + 1)


def knife(hosts: int = 12, per_host: int = 9, seed: int = 3) -> Dict[str, Any]:
    """Identical 256 GiB hosts running VMs of 10 to 30 GiB: K = 1 is proved
    by set-level bounds at once, the exact maximum takes a search."""
    state = [seed ^ 0x9E3779B97F4A7C15]
    vms = [
        {"name": f"vm{h:02}-{v}", "host": f"h{h:02}", "demand": {"memory_mib": _range(state, 10, 30) * 1024}}
        for h in range(hosts)
        for v in range(per_host)
    ]
    return {
        "name": "knife",
        "hosts": [{"name": f"h{h:02}", "capacity": {"memory_mib": 256 * 1024}} for h in range(hosts)],
        "vms": vms,
    }


def test_check_decides_k_first_and_stops_when_asked() -> None:
    pool = haplan.Pool.from_dict(knife())
    k_only = pool.check(max_time_s=0)
    full = pool.check(max_time_s=None)
    assert full.exact and full.stopped_by is None and full.stats.scenarios > 0
    assert k_only.verdict == haplan.Verdict.OK and k_only.ok
    assert not k_only.exact and k_only.stopped_by == "max_time"
    assert k_only.stats.scenarios == 0
    assert k_only.stats.k_decided_ms is not None
    assert k_only.max_tolerable <= full.max_tolerable <= k_only.upper_bound
    assert k_only.to_dict()["stopped_by"] == "max_time"


def test_every_tolerance_question_takes_max_time() -> None:
    pool = haplan.Pool.from_dict(knife())
    w = pool.whatif([{"op": "set_priority", "name": "vm00-0", "priority": "high"}], max_time_s=0)
    d = pool.diff(pool, max_time_s=0)
    h = pool.headroom({"memory_mib": 10240}, max_time_s=0)
    r = pool.drain("h00", max_time_s=0)
    for check in (w.before, w.after, d.old, d.new, h.check):
        assert check.stopped_by == "max_time" and check.stats.scenarios == 0
    assert r.end_state is not None and r.end_state.stopped_by == "max_time"
    t = pool.tiers(max_time_s=0)
    assert t.verdict == haplan.Verdict.UNDECIDED and not t.tiers[0].exact
    assert pool.tiers(max_time_s=None).verdict == haplan.Verdict.OK


def test_defaults_bound_every_question() -> None:
    assert haplan.DEFAULT_TIME_LIMIT_S == 60.0 and haplan.DEFAULT_MAX_TIME_S == 2.0
    methods = ("check", "plan", "agility", "whatif", "diff", "headroom", "drain", "tiers", "timing")
    for name in methods:
        params = inspect.signature(getattr(haplan.Pool, name)).parameters
        assert params["time_limit_s"].default == haplan.DEFAULT_TIME_LIMIT_S, name
        if name not in ("plan", "agility", "timing"):
            assert params["max_time_s"].default == haplan.DEFAULT_MAX_TIME_S, name
    pool = haplan.Pool.from_dict(knife(4, 2))
    with pytest.raises(TypeError, match="max_time"):
        pool.check(max_time_s="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_time"):
        pool.check(max_time_s=-1)
    with pytest.raises(TypeError, match="time_limit_s"):
        pool.agility(time_limit_s="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_limit_s"):
        pool.agility(time_limit_s=-1)
    assert issubclass(haplan.TimeLimitError, TimeoutError)


def test_diff_no_regress_knows_a_removed_vm_cannot_regress() -> None:
    old = knife()
    new = knife()
    new["vms"] = new["vms"][1:]
    d = haplan.Pool.from_dict(old).diff(haplan.Pool.from_dict(new), no_regress=True, time_limit_s=0)
    assert d.no_worse and d.regressed is False
    assert d.verdict != haplan.Verdict.UNDECIDED
    grown = knife()
    grown["vms"][0]["demand"]["memory_mib"] += 1024
    g = haplan.Pool.from_dict(old).diff(haplan.Pool.from_dict(grown), no_regress=True)
    assert not g.no_worse
