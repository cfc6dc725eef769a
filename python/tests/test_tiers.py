"""``Pool.tiers`` beyond the fixture runs: the report against the command
line's JSON, its attributes, verdicts (time limits included), failure
domains, a pool without protected VMs, bad arguments, threads, pickling,
text, repr and HTML. Also the failure domains of a check's ``Report``."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest

import haplan
from conftest import FIXTURES, html_text

TIERS = FIXTURES / "tiers" / "tiers.json"
RACKS = FIXTURES / "domains" / "racks.json"
# ffd-fails-exact-fits: with no time, bounds of 0 to 1 host failures.
TRAP = FIXTURES / "packing" / "ffd-fails-exact-fits.json"


@pytest.fixture(scope="module")
def tiers_pool() -> haplan.Pool:
    return haplan.Pool.load(TIERS)


def golden_json(path: str) -> Dict[str, Any]:
    """The JSON a golden file holds after its ``exit:`` and ``--- stdout`` lines."""
    text = (FIXTURES / path).read_text(encoding="utf-8")
    head, stdout_line, rest = text.split("\n", 2)
    assert head == "exit: 0" and stdout_line == "--- stdout"
    stdout, _ = rest.split("--- stderr\n", 1)
    data: Dict[str, Any] = json.loads(stdout)
    return data


def golden_text(path: str) -> str:
    text = (FIXTURES / path).read_text(encoding="utf-8")
    return text.split("--- stdout\n", 1)[1].split("--- stderr\n", 1)[0]


def assert_attributes_are_the_json(r: haplan.TiersReport) -> None:
    data = r.to_dict()
    for key in ("pool", "configured", "unit", "max_tolerable", "ok", "exact", "warnings"):
        assert getattr(r, key) == data[key], key
    assert [dataclasses.asdict(n) for n in r.not_agile] == data["not_agile"]
    assert len(r.tiers) == len(data["tiers"])
    for t, d in zip(r.tiers, data["tiers"]):
        for key in ("priority", "vms", "max_tolerable", "upper_bound", "exact", "ok"):
            assert getattr(t, key) == d[key], key
        if d["witness"] is None:
            assert t.witness is None
        else:
            w = t.witness
            assert w is not None
            assert (w.failed_hosts, w.unplaced, w.reason) == (
                d["witness"]["failed_hosts"],
                d["witness"]["unplaced"],
                d["witness"]["reason"],
            )
            assert w.failed_domains == d["witness"].get("failed_domains")
            short = d["witness"].get("short")
            assert w.short == (haplan.Short(**short) if short is not None else None)
    assert len(r.degradation) == len(data["degradation"])
    for row, d in zip(r.degradation, data["degradation"]):
        for key in ("failures", "safe_tiers", "lost_tiers", "undecided_tiers", "at_risk"):
            assert getattr(row, key) == d[key], key
        if d["example"] is None:
            assert row.example is None
        else:
            e = row.example
            assert e is not None
            assert (e.failed_hosts, e.stranded) == (d["example"]["failed_hosts"], d["example"]["stranded"])
            assert e.failed_domains == d["example"].get("failed_domains")


def test_same_json_as_the_command_line(tiers_pool: haplan.Pool) -> None:
    r = tiers_pool.tiers()
    assert isinstance(r, haplan.TiersReport)
    assert r.to_dict() == golden_json("tiers/tiers.json.expected")
    assert str(r) == golden_text("tiers/tiers.text.expected")
    assert r.verdict is haplan.Verdict.OK and r.exit_code == 0
    assert_attributes_are_the_json(r)


def test_attributes(tiers_pool: haplan.Pool) -> None:
    r = tiers_pool.tiers()
    assert (r.pool, r.configured, r.unit, r.max_tolerable, r.ok, r.exact) == ("tiers", 1, "host", 1, True, True)
    assert [(t.priority, t.vms, t.max_tolerable, t.exact, t.ok) for t in r.tiers] == [
        ("critical", 2, 3, True, True),
        ("high", 6, 2, True, True),
        ("low", 10, 1, True, True),
    ]
    assert all(isinstance(t, haplan.TierTolerance) for t in r.tiers)
    critical = r.tiers[0].witness
    assert isinstance(critical, haplan.Witness)
    assert critical.failed_hosts == ["h1", "h2", "h3", "h4"] and critical.unplaced == ["db1", "db2"]
    assert critical.short == haplan.Short("memory_mib", 131072, 0, 131072) and critical.failed_domains is None
    assert [(d.failures, d.safe_tiers, d.lost_tiers, d.undecided_tiers) for d in r.degradation] == [
        (2, ["critical", "high"], ["low"], []),
        (3, ["critical"], ["high", "low"], []),
        (4, [], ["critical", "high", "low"], []),
    ]
    two = r.degradation[0]
    assert isinstance(two, haplan.Degradation)
    assert two.at_risk == ["batch1", "batch2", "batch3", "batch4"]
    assert two.example == haplan.DegradationExample(["h1", "h2"], ["batch1", "batch2"])
    assert two.example.failed_domains is None
    assert r.degradation[1].example == haplan.DegradationExample(
        ["h1", "h2", "h3"], ["app1", "app2", "app3", "batch1", "batch2", "batch3"]
    )
    assert (r.not_agile, r.warnings) == ([], [])
    # The lowest tier is the whole pool: check's answer.
    check = tiers_pool.check()
    assert (r.max_tolerable, r.ok) == (check.max_tolerable, check.ok) == (r.tiers[-1].max_tolerable, r.tiers[-1].ok)


def test_tolerate_beyond_the_pool(tiers_pool: haplan.Pool) -> None:
    r = tiers_pool.tiers(tolerate=3)
    assert r.configured == 3 and not r.ok and r.exact
    assert r.verdict is haplan.Verdict.NOT_OK and r.exit_code == 1
    assert [(t.priority, t.ok) for t in r.tiers] == [("critical", True), ("high", False), ("low", False)]
    same = tiers_pool.tiers()
    assert r.degradation == same.degradation
    assert str(r).startswith("OVERCOMMITTED: pool tiers tolerates 1 host failure (configured: 3)")
    assert_attributes_are_the_json(r)


def test_time_limit_zero_is_exact_here(tiers_pool: haplan.Pool) -> None:
    """Set-level bounds settle every tier before any failure set is searched
    (fixtures/tiers/tiers.case.json); what is worked out only while time is
    left (the degradation rows' examples, what each witness strands) is
    omitted, and said so."""
    r = tiers_pool.tiers(time_limit_s=0)
    assert r.exact and r.verdict is haplan.Verdict.OK and r.exit_code == 0
    assert str(r) == golden_text("tiers/tiers.time-limit-0.expected")
    timed, given_time = r.to_dict(), tiers_pool.tiers().to_dict()
    assert all(row.get("example") is None for row in timed["degradation"])
    assert any(row.get("example") is not None for row in given_time["degradation"])

    # Each tier's witness is proved failing but, with no time, not explained.
    assert all(t["witness"].get("explained") is False for t in timed["tiers"])
    assert all("explained" not in t["witness"] for t in given_time["tiers"])

    def proved_part(d: Dict[str, Any]) -> Dict[str, Any]:
        rows = [{k: v for k, v in row.items() if k != "example"} for row in d["degradation"]]
        tiers = [
            {
                **t,
                "witness": {
                    k: v for k, v in t["witness"].items() if k not in ("unplaced", "explained")
                },
            }
            for t in d["tiers"]
        ]
        return {**d, "degradation": rows, "tiers": tiers}

    assert proved_part(timed) == proved_part(given_time)


def test_time_limit_leaves_the_pool_undecided() -> None:
    pool = haplan.Pool.load(TRAP)
    r = pool.tiers(time_limit_s=0)
    assert not r.exact and not r.ok
    assert r.verdict is haplan.Verdict.UNDECIDED and r.exit_code == 3
    (tier,) = r.tiers
    assert (tier.max_tolerable, tier.upper_bound, tier.exact) == (0, 1, False)
    assert r.degradation[0].undecided_tiers == ["medium"] and r.degradation[0].example is None
    assert str(r).startswith("UNDECIDED: ")
    assert_attributes_are_the_json(r)
    # Given the time, the same pool is decided.
    decided = pool.tiers()
    assert decided.exact and decided.verdict is haplan.Verdict.OK and decided.max_tolerable == 1


def test_ok_pool_with_an_undecided_row_is_undecided() -> None:
    """As the command line's exit code: the pool meets K = 0, but the time
    limit left its tier's tolerance and the row for 1 failure open."""
    r = haplan.Pool.load(TRAP).tiers(tolerate=0, time_limit_s=0)
    assert r.ok and not r.exact
    assert r.verdict is haplan.Verdict.UNDECIDED and r.exit_code == 3
    assert str(r).startswith("OK: ")


def test_failure_domains() -> None:
    pool = haplan.Pool.load(RACKS)
    r = pool.tiers()
    assert (r.unit, r.max_tolerable, r.ok, r.exact) == ("domain", 1, True, True)
    assert r.verdict is haplan.Verdict.OK and r.exit_code == 0
    assert [(t.priority, t.vms, t.max_tolerable) for t in r.tiers] == [("medium", 13, 1)]
    w = r.tiers[0].witness
    assert w is not None and w.failed_domains == ["r1", "r2"] and w.failed_hosts == ["h1", "h2", "h3", "h4"]
    (row,) = r.degradation
    assert (row.failures, row.safe_tiers, row.lost_tiers) == (2, [], ["medium"])
    assert row.example == haplan.DegradationExample(["h1", "h2", "h3", "h4"], ["vm4b"], ["r1", "r2"])
    assert r.warnings == ['host without the label "rack" (ha.failure_domain_label), each a failure domain of its own: h7']
    assert str(r) == golden_text("domains/racks.tiers.expected")
    assert_attributes_are_the_json(r)


def test_check_report_failure_domains() -> None:
    report = haplan.Pool.load(RACKS).check(tolerate=2)
    domains = report.failure_domains
    assert isinstance(domains, haplan.FailureDomains)
    assert domains.label == "rack"
    assert domains.domains == [
        haplan.FailureDomain("r1", True, ["h1", "h2"]),
        haplan.FailureDomain("r2", True, ["h3", "h4"]),
        haplan.FailureDomain("r3", True, ["h5", "h6"]),
        haplan.FailureDomain("h7", False, ["h7"]),
    ]
    assert dataclasses.asdict(domains) == report.to_dict()["failure_domains"]
    assert report.witness is not None and report.witness.failed_domains == ["r1", "r2"]
    plain = haplan.Pool.load(TIERS).check(explain=True)
    assert plain.failure_domains is None and "failure_domains" not in plain.to_dict()
    assert plain.witness is not None and plain.witness.failed_domains is None


def test_no_protected_vm() -> None:
    pool = haplan.Pool.from_dict(
        {
            "name": "spare",
            "hosts": [{"name": "h1", "capacity": {"memory_mib": 1024}}, {"name": "h2", "capacity": {"memory_mib": 1024}}],
            "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 512}, "restart": "best_effort"}],
        }
    )
    r = pool.tiers()
    assert (r.tiers, r.degradation, r.max_tolerable, r.ok) == ([], [], None, True)
    assert r.verdict is haplan.Verdict.OK and r.exit_code == 0
    assert_attributes_are_the_json(r)
    # More failures than hosts up: not ok, as check says.
    r = pool.tiers(tolerate=3)
    assert (r.tiers, r.max_tolerable, r.ok) == ([], None, False)
    assert r.verdict is haplan.Verdict.NOT_OK and r.exit_code == 1
    assert r.ok == pool.check(tolerate=3).ok
    assert_attributes_are_the_json(r)


def test_bad_arguments(tiers_pool: haplan.Pool) -> None:
    with pytest.raises(ValueError):
        tiers_pool.tiers(tolerate=-1)
    with pytest.raises(TypeError):
        tiers_pool.tiers(tolerate="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tiers_pool.tiers(tolerate=True)
    with pytest.raises(TypeError):
        tiers_pool.tiers(tolerate=1.0)  # type: ignore[arg-type]
    for limit in (-1.0, math.nan, math.inf, 2e9):
        with pytest.raises(ValueError):
            tiers_pool.tiers(time_limit_s=limit)
    with pytest.raises(TypeError):
        tiers_pool.tiers(time_limit_s="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tiers_pool.tiers(threads=0)
    with pytest.raises(ValueError):
        tiers_pool.tiers(threads=-1)
    with pytest.raises(TypeError):
        tiers_pool.tiers(threads=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tiers_pool.tiers(1, 1.0, 2)  # type: ignore[call-arg]


def test_threads_give_the_same_answer(tiers_pool: haplan.Pool) -> None:
    first = tiers_pool.tiers().to_dict()
    with ThreadPoolExecutor(4) as ex:
        for r in ex.map(lambda t: tiers_pool.tiers(threads=t), [1, 2, 3, 4]):
            assert r.to_dict() == first


def test_pickles_and_is_frozen(tiers_pool: haplan.Pool) -> None:
    r = tiers_pool.tiers()
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.to_dict() == r.to_dict() and str(back) == str(r)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.ok = False  # type: ignore[misc]
    data = r.to_dict()
    data["tiers"].clear()
    assert len(r.to_dict()["tiers"]) == 3


def test_text_repr_html(tiers_pool: haplan.Pool) -> None:
    r = tiers_pool.tiers()
    assert repr(r) == "<TiersReport OK: pool tiers tolerates 1 host failure (configured: 1)>"
    page = r._repr_html_()
    text = html_text(page)
    assert "critical" in text and "batch1" in text and "which tiers still restart" in text
    racks = html_text(haplan.Pool.load(RACKS).tiers()._repr_html_())
    assert "r1, r2" in racks and "warning: " in racks
    assert "UNDECIDED" in haplan.Pool.load(TRAP).tiers(time_limit_s=0)._repr_html_()


def test_rows_that_share_their_vms_at_risk_list_them_each() -> None:
    # Four empty hosts, small critical VMs and large high ones: rows 5 to 7
    # lose the same tiers, so the report shares one list between them (made
    # once); each row still lists every VM, as the command line does, and
    # its list is its own.
    data = json.loads(TIERS.read_text(encoding="utf-8"))
    for i in range(4):
        data["hosts"].append(dict(data["hosts"][0], name=f"spare{i}"))
    for vm in data["vms"]:
        vm["demand"] = {"memory_mib": {"db": 8192, "ap": 131072}.get(vm["name"][:2], 98304)}
    r = haplan.Pool.from_dict(data).tiers()
    high_and_low = ["app1", "app2", "app3", "app4", "batch1", "batch2", "batch3", "batch4"]
    assert [(d.failures, d.lost_tiers, d.at_risk) for d in r.degradation] == [
        (5, ["high", "low"], high_and_low),
        (6, ["high", "low"], high_and_low),
        (7, ["high", "low"], high_and_low),
        (8, ["critical", "high", "low"], ["db1", "db2"] + high_and_low),
    ]
    assert [d["at_risk"] for d in r.to_dict()["degradation"]] == [d.at_risk for d in r.degradation]
    r.degradation[0].at_risk.append("changed")
    assert r.degradation[1].at_risk == high_and_low
    assert_attributes_are_the_json(haplan.Pool.from_dict(data).tiers())
