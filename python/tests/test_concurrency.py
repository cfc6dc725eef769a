"""Long solves release the GIL, answer Ctrl-C quickly, and one pool serves
many threads at once.

The long solve: the 64-host ``big_pool`` checked with
``strategy="enumerate"`` (every failure set one by one, over a million of
them for K = 3), stopped by a ``time_limit_s``: it runs exactly as long as the
limit says, however fast the default strategy gets."""

from __future__ import annotations

import _thread
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest

import haplan
from conftest import ROOT, tshirt_pool, valid_pool_paths


def slow_check(pool: haplan.Pool, seconds: float) -> haplan.Report:
    return pool.check(tolerate=3, strategy="enumerate", time_limit_s=seconds)


def test_time_limited_check_reports_proved_bounds(big_pool: haplan.Pool) -> None:
    exact = big_pool.check(tolerate=3)
    assert exact.exact and exact.max_tolerable == 26
    start = time.monotonic()
    report = slow_check(big_pool, 0.3)
    elapsed = time.monotonic() - start
    # The search stops at the limit less the reserve for the answer (at
    # most a quarter of the limit), and the call returns within the limit.
    assert 0.3 * 0.75 <= elapsed < 1.5
    assert not report.exact
    assert report.max_tolerable <= 26 <= report.upper_bound
    assert report.verdict in (haplan.Verdict.OK, haplan.Verdict.UNDECIDED)


def test_other_threads_run_during_a_long_solve(big_pool: haplan.Pool) -> None:
    ticks: List[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.05)
        start = time.monotonic()
        slow_check(big_pool, 0.5)
        end = time.monotonic()
    finally:
        stop.set()
        thread.join()
    during = [t for t in ticks if start <= t <= end]
    assert end - start >= 0.5 * 0.75
    # The ticker kept going all through the solve: no gap near the solve's
    # length, as there would be if the solve held the GIL.
    points = [start] + during + [end]
    gaps = [b - a for a, b in zip(points, points[1:])]
    assert len(during) >= 20, f"only {len(during)} ticks in {end - start:.2f} s"
    assert max(gaps) < 0.15, f"the ticker stalled for {max(gaps):.3f} s"


def test_solves_in_two_threads_overlap(big_pool: haplan.Pool) -> None:
    start = time.monotonic()
    with ThreadPoolExecutor(2) as ex:
        reports = list(ex.map(lambda _: slow_check(big_pool, 0.4), range(2)))
    elapsed = time.monotonic() - start
    assert all(not r.exact for r in reports)
    assert elapsed < 0.75, f"two 0.4 s solves took {elapsed:.2f} s: serialised?"


def test_keyboard_interrupt_stops_a_long_solve_quickly(big_pool: haplan.Pool) -> None:
    fired: List[float] = []

    def interrupt() -> None:
        fired.append(time.monotonic())
        _thread.interrupt_main()

    # What Ctrl-C does by default, whatever this process inherited.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, interrupt)
    start = time.monotonic()
    timer.start()
    try:
        big_pool.check(tolerate=3, strategy="enumerate", time_limit_s=30)
    except KeyboardInterrupt:
        caught = time.monotonic()
    else:
        pytest.fail("the solve ended before the interrupt")
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert fired, "the timer did not fire"
    latency = caught - fired[0]
    assert latency < 0.1, f"KeyboardInterrupt came {latency * 1000:.0f} ms after Ctrl-C"
    assert caught - start < 1.0
    # The solver threads stopped too (the cancel flag), not only the wait.
    cpu = time.process_time()
    time.sleep(0.3)
    assert time.process_time() - cpu < 0.15, "the cancelled solve kept running"
    # And the pool still answers.
    assert big_pool.check(tolerate=3).max_tolerable == 26


CHILD = """
import json, signal, sys, time
import haplan
signal.signal(signal.SIGINT, signal.default_int_handler)
pool = haplan.Pool.from_dict(json.loads(sys.stdin.read()))
print("ready", flush=True)
try:
    pool.check(tolerate=3, strategy="enumerate", time_limit_s=30)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
"""


def test_ctrl_c_signal_in_a_real_process() -> None:
    """SIGINT, as a terminal sends it on Ctrl-C, to a process in a long solve."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(tshirt_pool(64, 1000, 5)))
        child.stdin.close()
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.3)
        sent = time.monotonic()
        os.kill(child.pid, signal.SIGINT)
        word, at = child.stdout.readline().split()
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert word == "interrupted"
    latency = float(at) - sent
    assert latency < 0.1, f"KeyboardInterrupt came {latency * 1000:.0f} ms after SIGINT"


def _answer(pool: haplan.Pool, what: str) -> Dict[str, Any]:
    if what == "check":
        data = pool.check(explain=True).to_dict()
        data.pop("stats")
        return data
    if what == "plan":
        return pool.plan(failed=pool.hosts[:1]).to_dict()
    return pool.agility().to_dict()


def test_one_pool_many_threads(big_pool: haplan.Pool) -> None:
    pools = [haplan.Pool.load(p) for p in valid_pool_paths()] + [big_pool]
    jobs = [(i, what) for i in range(len(pools)) for what in ("check", "plan", "agility") if pools[i].hosts]
    expected = {job: _answer(pools[job[0]], job[1]) for job in jobs}
    with ThreadPoolExecutor(8) as ex:
        for _ in range(3):
            got = dict(zip(jobs, ex.map(lambda job: _answer(pools[job[0]], job[1]), jobs)))
            assert got == expected


def test_threads_option_gives_the_same_answer(big_pool: haplan.Pool) -> None:
    one = big_pool.check(tolerate=27, threads=1).to_dict()
    two = big_pool.check(tolerate=27, threads=2).to_dict()
    one.pop("stats")
    two.pop("stats")
    assert one == two
