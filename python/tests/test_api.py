"""The shape of the API: attributes, text, repr, HTML, immutability, the
example script."""

from __future__ import annotations

import doctest
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import haplan
import haplan._pool
from conftest import FIXTURES, ROOT, html_text

DEMO = FIXTURES / "basic" / "demo.json"


@pytest.fixture(scope="module")
def demo() -> haplan.Pool:
    return haplan.Pool.load(DEMO)


def test_pool_attributes(demo: haplan.Pool) -> None:
    assert demo.name == "demo-pool"
    assert demo.hosts == ["xs01", "xs02", "xs03", "xs04", "xs05", "xs06"]
    assert len(demo.vms) == 20 and "sql01" in demo.vms
    assert demo.host_failures_to_tolerate == 1
    assert repr(demo) == "<Pool 'demo-pool': 6 hosts, 20 VMs>"
    assert demo.to_json() == DEMO.read_text(encoding="utf-8")


def test_pool_is_immutable_and_unhashable(demo: haplan.Pool) -> None:
    with pytest.raises(AttributeError):
        demo.name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        demo._inner = None  # type: ignore[assignment]
    with pytest.raises(TypeError):
        hash(demo)


def test_report_text_repr_html(demo: haplan.Pool) -> None:
    report = demo.check(explain=True)
    assert repr(report) == "<Report OK: pool demo-pool tolerates 1 host failure (configured: 1)>"
    assert str(report).startswith("OK: pool demo-pool tolerates 1 host failure (configured: 1)\nWorst failure set: xs01, xs02")
    page = report._repr_html_()
    text = html_text(page)
    assert "<table" not in page or "</table>" in page
    assert "xs01, xs02" in text and "web01, web02" in text and "OK" in text
    assert report.witness is not None and report.witness.short is None


def test_html_escapes_names() -> None:
    pool = haplan.Pool.from_dict(
        {
            "name": "<b>rack</b>",
            "hosts": [{"name": "h<1>", "capacity": {"m": 4}}, {"name": "h&2", "capacity": {"m": 1}}],
            "vms": [{"name": "v<script>", "host": "h<1>", "demand": {"m": 3}}],
        }
    )
    report = pool.check()
    assert not report.ok
    page = report._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>rack" not in page
    assert "<script>" not in pool.plan(failed=["h<1>"])._repr_html_()
    assert "<script>" not in pool.agility()._repr_html_()


def test_to_dict_is_a_fresh_copy(demo: haplan.Pool) -> None:
    report = demo.check()
    data = report.to_dict()
    data["pool"] = "changed"
    data["not_agile"].append("x")
    assert report.to_dict()["pool"] == "demo-pool"
    assert report.to_dict()["not_agile"] == []


def test_report_is_frozen(demo: haplan.Pool) -> None:
    report = demo.check()
    with pytest.raises(AttributeError):
        report.ok = False  # type: ignore[misc]


def test_verdicts() -> None:
    assert haplan.Verdict("ok") is haplan.Verdict.OK
    assert [v.exit_code for v in haplan.Verdict] == [0, 1, 3]
    pool = haplan.Pool.load(FIXTURES / "packing" / "ffd-fails-exact-fits.json")
    undecided = pool.check(time_limit_s=0)
    assert undecided.verdict is haplan.Verdict.UNDECIDED and undecided.exit_code == 3
    assert not undecided.exact and undecided.max_tolerable == 0 and undecided.upper_bound == 1
    assert repr(undecided).startswith("<Report UNDECIDED:")


def test_plan(demo: haplan.Pool) -> None:
    plan = demo.plan(failed="xs01")
    assert plan == demo.plan(failed=["xs01"]) == demo.plan(failed=("xs01", "xs01"))
    assert plan.failed_hosts == ["xs01"] and plan.complete and plan.exact
    assert [(p.vm, p.host, p.order) for p in plan.placements] == [
        ("dc01", "xs03", 0),
        ("sql01", "xs04", 1),
        ("app01", "xs02", 2),
        ("web01", "xs02", 3),
    ]
    assert plan.placements[0] == haplan.Placement("dc01", "xs03", 0, "protected", "critical", 30)
    assert plan.exit_code == 0
    assert repr(plan) == "<Plan OK: if xs01 fails, every protected VM can be restarted (4 placed, 0 unplaced)>"
    assert "<table" in plan._repr_html_()


def test_incomplete_plan() -> None:
    pool = haplan.Pool.load(FIXTURES / "citrix" / "two-hosts-two-vms-each.json")
    plan = pool.plan(failed=["xen1"])
    assert not plan.complete and plan.exit_code == 1
    assert plan.unplaced and all(isinstance(u, haplan.Unplaced) for u in plan.unplaced)
    assert "Not restarted" in plan._repr_html_()


def test_agility() -> None:
    pool = haplan.Pool.load(FIXTURES / "constraints" / "not-agile.json")
    ag = pool.agility()
    assert not ag.ok and ag.exit_code == 1
    assert [v.vm for v in ag.not_agile] == ["legacy", "report"]
    assert all(isinstance(v, haplan.VmAgility) for v in ag.vms)
    assert repr(ag).startswith("<Agility NOT OK: 2 protected VMs")
    assert haplan.Pool.load(DEMO).agility().ok


def test_agility_text_is_made_only_when_read() -> None:
    # The text names about hosts times VMs hosts (1.4 GB on 2000 hosts and
    # 100,000 VMs): repr and the notebook view do not make it, reading it
    # does, once, and it is the command line's.
    pool = haplan.Pool.load(FIXTURES / "constraints" / "not-agile.json")
    ag = pool.agility()
    repr(ag)
    assert "NOT OK" in ag._repr_html_()
    assert "text" not in vars(ag)
    first = ag.text
    assert ag.text is first and str(ag) is first
    assert first.splitlines()[0] == "NOT OK: 2 protected VMs of pool not-agile cannot restart on any other host"
    assert first.endswith("  cache: h1, h2\n")


def test_agility_names_each_host_with_one_string() -> None:
    # The answer lists about hosts times VMs names: each host's is one str
    # every list shares (a copy per VM took tens of GB on 2000 hosts and
    # 100,000 VMs), and the answer is the command line's all the same.
    pool = haplan.Pool.load(FIXTURES / "constraints" / "not-agile.json")
    ag = pool.agility(time_limit_s=None)
    names = [t for v in ag.vms for t in v.targets] + [v.host for v in ag.vms]
    assert len(names) > len({id(n) for n in names}) == len(set(names))
    assert ag.to_dict() == pool.agility().to_dict()
    assert ag.to_dict()["vms"][0].keys() == {"vm", "host", "agile", "targets", "reasons"}
    # A fresh copy: changing it changes neither the answer nor the next copy.
    copy = ag.to_dict()
    first = ag.to_dict()["vms"][0]
    copy["vms"][0]["targets"].append("nowhere")
    copy["vms"][0]["reasons"].append("none")
    copy["vms"][0]["vm"] = "renamed"
    copy["vms"].pop()
    assert ag.to_dict()["vms"][0] == first and len(ag.to_dict()["vms"]) == len(ag.vms)
    assert "nowhere" not in ag.vms[0].targets


def test_docstring_example() -> None:
    result = doctest.testmod(haplan._pool, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_example_script(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["capacity.py"])
    runpy.run_path(str(ROOT / "python" / "examples" / "capacity.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "demo-pool: max_tolerable=1 (configured: 1), ok=True" in out
    assert "sql01        -> xs04" in out
    assert "  xs03         tolerates 1\n  xs04         tolerates 0  NOT OK\n" in out


def test_version() -> None:
    assert haplan.__version__.count(".") == 2


def test_import_in_a_fresh_interpreter() -> None:
    code = "import haplan, sys; sys.exit(0 if haplan.Pool.__module__ == 'haplan._pool' else 1)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(ROOT))
