"""``haplan.fleet`` on a LocalCluster of worker processes: every pool's row
is its own check, in the order given, each pool once, bad pools kept as
rows with their error, a worker killed mid-run loses nothing and counts
nothing twice, and a split search gives ``Pool.check``'s report."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import haplan
from conftest import tshirt_pool, valid_pool_paths
from test_budget import knife

distributed = pytest.importorskip("distributed")
pandas = pytest.importorskip("pandas")
fleet = pytest.importorskip("haplan.fleet")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes, as on the 2-core CI machine."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:
        yield c


def write_fleet(d: Path, count: int) -> List[str]:
    paths = []
    for seed in range(count):
        p = d / f"pool-{seed:03}.json"
        p.write_text(json.dumps(tshirt_pool(16 + seed % 9, 120 + 7 * (seed % 5), seed)), encoding="utf-8")
        paths.append(str(p))
    return paths


def row_of(report: Dict[str, Any]) -> Dict[str, Any]:
    return {k: report[k] for k in ("pool", "configured", "max_tolerable", "upper_bound", "exact", "ok")}


def test_check_rows_are_each_pools_check_in_order(client: Any, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, 12)
    (tmp_path / "bad.json").write_text('{"format": "haplan/v1"}', encoding="utf-8")
    missing = str(tmp_path / "missing.json")
    given: List[Any] = [Path(paths[0]), haplan.Pool.load(paths[1]), *paths[2:], str(tmp_path / "bad.json"), missing]
    given += [str(p) for p in valid_pool_paths()[:6]]
    df = fleet.check(given, client, tolerate=2, batch=3)
    assert list(df.columns[:5]) == ["path", "pool", "question", "verdict", "error"]
    assert len(df) == len(given)
    # A Pool has no path; every other row names its file.
    assert pandas.isna(df.path[1])
    assert list(df.path[2:]) == [os.fspath(p) for p in given[2:]]
    for i, g in enumerate(given):
        row = df.iloc[i]
        if row.verdict == "error":
            continue
        pool = g if isinstance(g, haplan.Pool) else haplan.Pool.load(g)
        want = pool.check(tolerate=2).to_dict()
        assert {k: row[k] for k in row_of(want)} == row_of(want), g
        assert row.question == "check"
        witness = want["witness"]["failed_hosts"] if want["witness"] else None
        got = row.witness if isinstance(row.witness, list) else None
        assert got == witness, g
    errors = df[df.verdict == "error"]
    assert list(errors.path) == [str(tmp_path / "bad.json"), missing]
    assert errors.error.iloc[0].startswith(str(tmp_path / "bad.json"))
    assert "missing.json" in errors.error.iloc[1]
    assert df[df.verdict != "error"].error.isna().all()


def test_time_limit_is_time_limit_s_and_warns(client: Any, tmp_path: Path) -> None:
    """The keyword of the previous release still reaches every pool's
    check (0 s: no pool's maximum is proved), with a warning."""
    paths = []
    for seed in range(3):
        p = tmp_path / f"knife-{seed}.json"
        p.write_text(json.dumps(knife()), encoding="utf-8")
        paths.append(str(p))
    new = fleet.check(paths, client, time_limit_s=0)
    with pytest.warns(DeprecationWarning, match=r"haplan\.fleet\.check\(time_limit=\.\.\.\) is deprecated .* use time_limit_s="):
        old = fleet.check(paths, client, time_limit=0)
    assert list(old.exact) == list(new.exact) == [False] * 3
    assert list(fleet.check(paths, client).exact) == [True] * 3
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="both time_limit and time_limit_s"):
        fleet.tiers(paths, client, time_limit=1, time_limit_s=2)


def test_every_question_is_bounded_by_default(client: Any, tmp_path: Path) -> None:
    """As ``Pool``'s methods and ``haplan fleet``: 60 s per pool and 2 s
    past K unless asked otherwise (a pool whose K question is hard no
    longer holds a worker for ever), and ``max_time_s`` reaches each
    pool: 0 stops every pool's search once K is proved."""
    import inspect

    for question in (fleet.check, fleet.whatif, fleet.headroom, fleet.tiers):
        params = inspect.signature(question).parameters
        assert params["time_limit_s"].default == haplan.DEFAULT_TIME_LIMIT_S, question.__name__
        assert params["max_time_s"].default == haplan.DEFAULT_MAX_TIME_S, question.__name__
    assert inspect.signature(fleet.check_split).parameters["time_limit_s"].default == haplan.DEFAULT_TIME_LIMIT_S
    paths = []
    for seed in range(2):
        p = tmp_path / f"knife-{seed}.json"
        p.write_text(json.dumps(knife(seed=seed + 3)), encoding="utf-8")
        paths.append(str(p))
    k_only = fleet.check(paths, client, tolerate=1, max_time_s=0)
    assert list(k_only.verdict) == ["ok", "ok"]
    assert list(k_only.exact) == [False, False]
    assert list(k_only.stopped_by) == ["max_time", "max_time"]
    full = fleet.check(paths, client, tolerate=1, max_time_s=None)
    assert list(full.exact) == [True, True]
    assert all(k_only.max_tolerable <= full.max_tolerable) and all(full.max_tolerable <= k_only.upper_bound)
    with pytest.warns(DeprecationWarning, match=r"haplan\.fleet\.tiers\(max_time=\.\.\.\) is deprecated"):
        t = fleet.tiers(paths, client, tolerate=1, max_time=0)
    assert list(t.exact) == [False, False]
    w = fleet.whatif(paths, [], client, tolerate=1, max_time_s=0)
    assert list(w.after_exact) == [False, False]


def test_parquet_round_trip(client: Any, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    paths = write_fleet(tmp_path, 4) + [str(tmp_path / "missing.json")]
    df = fleet.check(paths, client)
    out = tmp_path / "fleet.parquet"
    fleet.to_parquet(df, out)
    back = pandas.read_parquet(out)
    assert list(back.path) == paths
    assert list(back.max_tolerable.iloc[:4]) == list(df.max_tolerable.iloc[:4])
    assert back.verdict.iloc[4] == "error"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_whatif_headroom_tiers(client: Any, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, 5)

    def first_host_in_maintenance(pool: haplan.Pool) -> List[Dict[str, Any]]:
        return [{"op": "maintenance", "name": pool.hosts[0]}]

    df = fleet.whatif(paths, first_host_in_maintenance, client)
    for p, (_, row) in zip(paths, df.iterrows()):
        pool = haplan.Pool.load(p)
        want = pool.whatif(first_host_in_maintenance(pool)).to_dict()
        assert row.after_max_tolerable == want["after"]["max_tolerable"], p
        assert row.before_max_tolerable == want["before"]["max_tolerable"], p
    # A change that does not fit every pool is that pool's error.
    df = fleet.whatif(paths, [{"op": "maintenance", "name": "h000"}, {"op": "maintenance", "name": "h020"}], client)
    assert set(df.verdict[df.path == paths[0]]) == {"error"}
    h = fleet.headroom(paths, {"memory_mib": 8192, "vcpus": 2}, client)
    assert list(h.max_additional) == [
        haplan.Pool.load(p).headroom({"memory_mib": 8192, "vcpus": 2}).max_additional for p in paths
    ]
    t = fleet.tiers(paths, client)
    assert list(t.verdict) == [str(haplan.Pool.load(p).tiers().verdict) for p in paths]


def test_a_worker_killed_mid_run_loses_no_pool_and_counts_none_twice(client: Any, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, 24)

    def slowly(pool: haplan.Pool) -> List[Dict[str, Any]]:
        time.sleep(0.25)  # each pool's task long enough to be caught running
        return [{"op": "maintenance", "name": pool.hosts[-1]}]

    pids: Dict[str, int] = client.run(os.getpid)
    result: Dict[str, Any] = {}

    def run() -> None:
        result["df"] = fleet.whatif(paths, slowly, client, batch=2)

    t = threading.Thread(target=run)
    t.start()
    killed: Optional[str] = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and t.is_alive():
        for addr, tasks in client.processing().items():
            if tasks and addr in pids:
                os.kill(pids[addr], signal.SIGKILL)
                killed = addr
                break
        time.sleep(0.05)
    t.join(120)
    assert killed is not None, "no task was seen running"
    assert not t.is_alive()
    df = result["df"]
    assert list(df.path) == paths
    assert (df.verdict != "error").all(), df[df.verdict == "error"].error.tolist()
    for p, (_, row) in zip(paths, df.iterrows()):
        pool = haplan.Pool.load(p)
        want = pool.whatif([{"op": "maintenance", "name": pool.hosts[-1]}]).to_dict()
        assert row.after_max_tolerable == want["after"]["max_tolerable"], p
    # The killed worker is gone: the nanny started another in its place.
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid)


def without_stats(d: Dict[str, Any]) -> Dict[str, Any]:
    d = dict(d)
    d.pop("stats")
    return d


@pytest.mark.parametrize("strategy", ["full", "enumerate"])
def test_split_check_is_check(client: Any, strategy: str) -> None:
    pools = [haplan.Pool.load(p) for p in valid_pool_paths()[:10]]
    if strategy == "full":
        # Without the set-level bounds these tolerate too much to enumerate.
        pools += [haplan.Pool.from_dict(tshirt_pool(20 + s, 200, s)) for s in range(3)]
    for i, pool in enumerate(pools):
        for parts, ahead in ((1 + i % 2, i % 3), (3 + 4 * (i % 2), 2 * (i % 2))):
            want = pool.check(explain=True, strategy=strategy).to_dict()
            got = fleet.check_split(pool, client, parts=parts, ahead=ahead, explain=True, strategy=strategy)
            assert without_stats(got.to_dict()) == without_stats(want), (pool.name, parts, ahead)


def test_split_parts_run_on_the_workers(client: Any) -> None:
    """The parts are tasks: their count shows in the workers' logs of
    finished tasks, and a part sent to another pool is refused."""
    pool = haplan.Pool.load(valid_pool_paths()[0])
    before = sum(len(v) for v in client.run(lambda dask_worker: list(dask_worker.state.log)).values())
    fleet.check_split(pool, client, parts=4, strategy="enumerate")
    after = sum(len(v) for v in client.run(lambda dask_worker: list(dask_worker.state.log)).values())
    assert after > before
    seen: List[str] = []

    def keep(rounds: List[List[str]]) -> Optional[List[str]]:
        seen.extend(rounds[0])
        return None

    pool._inner.check_split(keep, 2, 0, None, None, False, None, "enumerate")
    assert seen
    other = haplan.Pool.from_dict(tshirt_pool(25, 260, 9))
    assert other != pool
    with pytest.raises(ValueError, match="another search"):
        other._inner.search_part(seen[0])
