"""Rules between VMs, soft rules, per-host and failover overcommit and
numeric priorities (``docs/pool-format.md``, haplan 0.2) through the Python
API: the typed attributes of the answers, against the fixtures' goldens
(``fixtures/constraints/soft``, ``together``, ``failover-overcommit``)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Dict

import haplan
from conftest import FIXTURES

CONSTRAINTS = FIXTURES / "constraints"


def golden_json(name: str, run: str) -> Dict[str, Any]:
    """The JSON stdout of a fixture's golden run."""
    text = (CONSTRAINTS / f"{name}.{run}.expected").read_text(encoding="utf-8")
    stdout = text.split("--- stdout\n", 1)[1].split("--- stderr\n", 1)[0]
    data: Dict[str, Any] = json.loads(stdout)
    return data


def test_soft_rules_of_a_check() -> None:
    pool = haplan.Pool.load(CONSTRAINTS / "soft.json")
    report = pool.check()
    golden = golden_json("soft", "check")["soft_rules"]
    broken = haplan.BrokenRule(
        rule="group", group="web", reason="group web (apart, at most 1 per host): web1 and web2 on h2"
    )
    assert report.soft_rules == haplan.SoftRules(
        rules=2,
        max_tolerable=0,
        upper_bound=0,
        exact=True,
        must_break=True,
        witness=haplan.SoftWitness(failed_hosts=["h1"], broken=[broken]),
    )
    assert report.to_dict()["soft_rules"] == golden
    # Soft rules never change the verdict.
    assert report.ok and report.verdict is haplan.Verdict.OK and report.max_tolerable == 1
    assert broken.vm is None


def test_a_pool_without_soft_rules_has_none() -> None:
    for name in ("together", "failover-overcommit"):
        pool = haplan.Pool.load(CONSTRAINTS / f"{name}.json")
        report = pool.check()
        assert report.soft_rules is None and "soft_rules" not in report.to_dict()
        plan = pool.plan("h1")
        assert plan.soft_broken is None and "soft_broken" not in plan.to_dict()


def test_soft_rules_broken_by_a_plan() -> None:
    pool = haplan.Pool.load(CONSTRAINTS / "soft.json")
    plan = pool.plan("h1")
    assert plan.soft_broken == [
        haplan.BrokenRule(rule="group", group="web", reason="group web (apart, at most 1 per host): web1 and web2 on h2")
    ]
    assert [b.__dict__ for b in plan.soft_broken] == [
        {"vm": None, **b} for b in golden_json("soft", "plan-h1")["soft_broken"]
    ]
    # h3 fails: db goes to its preferred host, nothing is broken (an empty
    # list, not None: the pool has soft rules).
    kept = pool.plan("h3")
    assert kept.soft_broken == [] and [(p.vm, p.host) for p in kept.placements] == [("db", "h2")]


def test_a_broken_preference_names_its_vm() -> None:
    pool = haplan.Pool.from_dict(
        {
            "name": "prefers",
            "hosts": [
                {"name": "h1", "capacity": {"m": 8}},
                {"name": "h2", "capacity": {"m": 8}},
                {"name": "h3", "capacity": {"m": 8}},
            ],
            "vms": [
                {"name": "a", "host": "h1", "demand": {"m": 4}, "preferred_hosts": ["h2"]},
                {"name": "b", "host": "h2", "demand": {"m": 6}},
            ],
        }
    )
    plan = pool.plan("h1")
    assert [(p.vm, p.host) for p in plan.placements] == [("a", "h3")]
    assert plan.soft_broken is not None and len(plan.soft_broken) == 1
    (broken,) = plan.soft_broken
    assert (broken.rule, broken.vm, broken.group) == ("preferred_hosts", "a", None)
    assert broken.reason == plan.to_dict()["soft_broken"][0]["reason"]
    report = pool.check()
    assert report.soft_rules is not None
    assert report.soft_rules.must_break is True and report.soft_rules.rules == 1


def test_numeric_priorities_are_ints() -> None:
    plan = haplan.Pool.load(CONSTRAINTS / "together.json").plan("h1")
    assert [(p.vm, p.host, p.priority) for p in plan.placements] == [("db1", "h3", 3500), ("app1", "h3", "medium")]
    assert isinstance(plan.placements[0].priority, int)
    plan = haplan.Pool.load(CONSTRAINTS / "failover-overcommit.json").plan("h1")
    assert [(p.vm, p.host, p.priority) for p in plan.placements] == [("b", "h2", 2500), ("a", "h3", "medium")]
    assert plan.to_dict() == golden_json("failover-overcommit", "plan-h1")


def test_numeric_priorities_in_tiers_and_timing() -> None:
    pool = haplan.Pool.load(CONSTRAINTS / "together.json")
    tiers = pool.tiers()
    assert [(t.priority, t.vms) for t in tiers.tiers] == [(3500, 1), ("medium", 3)]
    timing = pool.timing(fail="h1")
    assert {v.vm: v.priority for v in timing.vms} == {"db1": 3500, "app1": "medium"}


def test_strict_together_group_stranded_as_a_whole() -> None:
    plan = haplan.Pool.load(CONSTRAINTS / "together.json").plan(["h1", "h3"])
    assert not plan.complete and plan.exit_code == 1
    assert [u.vm for u in plan.unplaced] == ["db1", "app1"]
    assert all("must run together" in u.reason for u in plan.unplaced)


def test_failover_and_per_host_overcommit() -> None:
    pool = haplan.Pool.load(CONSTRAINTS / "failover-overcommit.json")
    report = pool.check()
    assert (report.max_tolerable, report.ok) == (1, True)
    assert report.to_dict()["max_tolerable"] == golden_json("failover-overcommit", "check")["max_tolerable"]
    # Without the failover ratio h1's VMs (20 vCPUs) have 4 + 4 spare.
    data = pool.to_dict()
    del data["ha"]["failover_overcommit"]
    assert haplan.Pool.from_dict(data).check().max_tolerable == 0
    # Without h1's own ratio it is overloaded already (20 of 16).
    data = pool.to_dict()
    del data["hosts"][0]["overcommit"]
    assert any("h1" in w for w in haplan.Pool.from_dict(data).check().warnings)
    # Headroom uses the spare of normal operation only.
    room = pool.headroom({"vcpus": 4, "memory_mib": 1024})
    assert room.max_additional == 1
    assert [(h.host, h.room, h.fits_here) for h in room.hosts] == [("h1", 3, 1), ("h2", 1, 1), ("h3", 1, 1)]


def test_new_fields_survive_the_pool_round_trips(tmp_path: Path) -> None:
    for name in ("soft", "together", "failover-overcommit"):
        text = (CONSTRAINTS / f"{name}.json").read_text(encoding="utf-8")
        pool = haplan.Pool.from_json(text)
        assert pool.to_dict() == json.loads(text)
        assert pickle.loads(pickle.dumps(pool)) == pool
        assert haplan.Pool.from_dict(json.loads(text)) == pool


def test_plan_html_lists_the_soft_rules_broken() -> None:
    page = haplan.Pool.load(CONSTRAINTS / "soft.json").plan("h1")._repr_html_()
    assert "Soft rules broken" in page and "web1 and web2 on h2" in page
    kept = haplan.Pool.load(CONSTRAINTS / "soft.json").plan("h3")._repr_html_()
    assert "Soft rules broken" not in kept
