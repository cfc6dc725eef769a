"""Pools (and answers) pickle, so that Dask or Ray workers can receive them."""

from __future__ import annotations

import copy
import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Dict

import pytest

import haplan
from conftest import FIXTURES, tshirt_pool, valid_pool_paths


@pytest.mark.parametrize("path", valid_pool_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_round_trip_every_fixture(path: Path) -> None:
    pool = haplan.Pool.load(path)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(pool, protocol=protocol))
        assert isinstance(back, haplan.Pool)
        assert back == pool
        assert back.to_json() == pool.to_json()
    a, b = pool.check(explain=True).to_dict(), back.check(explain=True).to_dict()
    a.pop("stats")
    b.pop("stats")
    assert a == b


def test_round_trip_from_dict() -> None:
    data = tshirt_pool(8, 60, 1)
    pool = haplan.Pool.from_dict(data)
    back = pickle.loads(pickle.dumps(pool))
    assert back == pool
    assert json.loads(back.to_json()) == data
    assert back.to_dict() == data


def test_copy_is_the_same_immutable_pool() -> None:
    pool = haplan.Pool.load(FIXTURES / "basic" / "demo.json")
    assert copy.copy(pool) is pool
    assert copy.deepcopy(pool) is pool


def test_answers_pickle() -> None:
    pool = haplan.Pool.load(FIXTURES / "basic" / "demo.json")
    for answer in (pool.check(explain=True), pool.plan(failed=["xs01"]), pool.agility()):
        back = pickle.loads(pickle.dumps(answer))
        assert back == answer
        assert back.to_dict() == answer.to_dict()
        assert str(back) == str(answer)


def _remote_check(pool: haplan.Pool) -> Dict[str, Any]:
    data = pool.check(explain=True).to_dict()
    data.pop("stats")
    return data


def _remote_slow_check(pool: haplan.Pool) -> bool:
    return pool.check(tolerate=3, strategy="enumerate", time_limit_s=0.1).exact


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_pool_works_in_a_forked_child(big_pool: haplan.Pool) -> None:
    """A child forked after solves ran in the parent (multiprocessing's
    default on Linux) still solves: the parent's solver threads do not
    exist there."""
    assert not _remote_slow_check(big_pool)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as workers:
        assert workers.apply_async(_remote_slow_check, (big_pool,)).get(timeout=30) is False
        assert workers.apply_async(_remote_check, (big_pool,)).get(timeout=30) == _remote_check(big_pool)


def test_pool_travels_to_a_fresh_worker_process() -> None:
    pool = haplan.Pool.load(FIXTURES / "basic" / "midsize.json")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as ex:
        remote = ex.submit(_remote_check, pool).result(timeout=60)
    assert remote == _remote_check(pool)
