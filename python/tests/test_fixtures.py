"""Every fixture run of ``fixtures/`` through the Python API, against the
golden files the Rust fixture test uses: the same exit code, the same JSON
(every field, in order) and the same text, or the same error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Union

import pytest

import haplan
from conftest import SUBCOMMANDS, ROOT, Run, bad_pool_paths, fixture_runs, normalise_text_stats, valid_pool_paths

RUNS = fixture_runs()
PREFIX = f"{ROOT}/"


def load(run: Run) -> haplan.Pool:
    if run.stdin:
        return haplan.Pool.from_json(run.pool_path.read_text(encoding="utf-8"), source="<stdin>")
    return haplan.Pool.load(run.pool_path)


def execute(run: Run) -> Union[haplan.Report, haplan.Plan, haplan.Agility]:
    """What ``haplan <run.command>`` computes, through the Python API."""
    pool = load(run)
    sub = run.command[0]
    if sub == "check":
        tolerate = run.flag("--tolerate")
        time_limit = run.flag("--time-limit")
        threads = run.flag("--threads")
        return pool.check(
            tolerate=int(tolerate) if tolerate is not None else None,
            time_limit=float(time_limit) if time_limit is not None else None,
            explain="--explain" in run.command,
            threads=int(threads) if threads is not None else None,
            strategy=run.flag("--strategy") or "full",
        )
    if sub == "plan":
        failed = run.flag("--fail")
        assert failed is not None
        time_limit = run.flag("--time-limit")
        return pool.plan(failed=failed.split(","), time_limit=float(time_limit) if time_limit is not None else None)
    if sub == "agility":
        return pool.agility()
    raise AssertionError(f"no Python equivalent of {run.command}")


@pytest.mark.parametrize("run", RUNS, ids=str)
def test_fixture_run(run: Run) -> None:
    if run.command[0] not in SUBCOMMANDS or run.with_files:
        pytest.skip(f"haplan {run.command[0]} is not in the Python API yet")
    golden = run.golden()
    if golden.exit == 2:
        # Bad input: the same message as the command line, without "haplan: ".
        assert golden.stdout == ""
        with pytest.raises(haplan.HaplanError) as caught:
            execute(run)
        assert "haplan: " + str(caught.value).replace(PREFIX, "") + "\n" == golden.stderr
        if isinstance(caught.value, haplan.InvalidPoolError):
            assert not run.valid
            lines = golden.stderr.rstrip("\n").split("\n")
            assert ["  " + str(p) for p in caught.value.problems] == lines[1:]
        else:
            assert isinstance(caught.value, haplan.QueryError)
        return
    assert run.valid, "a bad pool must not load"
    result = execute(run)
    assert result.exit_code == golden.exit
    assert golden.stderr == ""
    if run.flag("--format") == "json":
        data = result.to_dict()
        if isinstance(result, haplan.Report):
            stats = data["stats"]
            assert all(isinstance(v, int) for v in stats.values())
            assert stats["scenarios"] == result.stats.scenarios
            data["stats"] = "(normalised)"
        assert json.dumps(data, indent=2, ensure_ascii=False) + "\n" == golden.stdout
    else:
        assert normalise_text_stats(str(result)) == golden.stdout


@pytest.mark.parametrize("run", [r for r in RUNS if r.valid and r.command[0] == "check" and not r.with_files], ids=str)
def test_report_attributes_match_json(run: Run) -> None:
    """The attributes are the JSON fields, with the same values."""
    report = execute(run)
    assert isinstance(report, haplan.Report)
    data = report.to_dict()
    for key in ("pool", "configured", "max_tolerable", "ok", "exact", "upper_bound", "warnings", "stranded_now"):
        assert getattr(report, key) == data[key], key
    assert [{"vm": n.vm, "reasons": n.reasons} for n in report.not_agile] == data["not_agile"]
    if data["witness"] is None:
        assert report.witness is None
    else:
        w = report.witness
        assert w is not None
        assert (w.failed_hosts, w.unplaced, w.reason) == (
            data["witness"]["failed_hosts"],
            data["witness"]["unplaced"],
            data["witness"]["reason"],
        )
        short = data["witness"].get("short")
        if short is None:
            assert w.short is None
        else:
            assert w.short == haplan.Short(**short)
    assert report.ok == (report.verdict == haplan.Verdict.OK)


@pytest.mark.parametrize("path", valid_pool_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_from_dict_equals_from_json(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    a = haplan.Pool.from_json(text)
    b = haplan.Pool.from_dict(json.loads(text))
    assert a == b
    assert b == haplan.Pool.from_json(b.to_json())
    ra, rb = a.check(explain=True).to_dict(), b.check(explain=True).to_dict()
    ra.pop("stats")
    rb.pop("stats")
    assert ra == rb


def _problems(source: Any) -> Any:
    with pytest.raises(haplan.InvalidPoolError) as caught:
        source()
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize("path", bad_pool_paths(), ids=lambda p: p.stem)
def test_bad_pool_from_dict_same_problems(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        pytest.skip("not JSON: only from_json can read it")
    assert _problems(lambda: haplan.Pool.from_dict(data)) == _problems(lambda: haplan.Pool.from_json(text))
