"""Many pools, or one large pool's search, on a Dask cluster.

A fleet of pools is checked (or asked what-if, headroom or tiers) on a
``dask.distributed`` client, many pools per task so that scheduling does
not dominate, each task's solves on ``threads=1`` by default so that a
worker's tasks do not oversubscribe its cores. The answer is a pandas
DataFrame, one row per pool in the order given, with a ``path`` column (the
file, for a pool given as one), ``question``, ``pool`` (its name),
``verdict``, ``error`` and the answer's JSON fields as columns (nested
objects flattened with ``_``: ``before_max_tolerable`` in a what-if)::

    import haplan.fleet

    df = haplan.fleet.check(glob.glob("pools/*.json"), tolerate=1)
    print(df[["path", "max_tolerable", "ok", "exact"]])
    print(df[df.verdict != "ok"])
    haplan.fleet.to_parquet(df, "nightly.parquet")

A pool that cannot be read, is invalid or whose question fails is a row with
``verdict`` ``"error"`` and the message in ``error``; the run goes on. Paths
are read by the workers: on a cluster of several machines they must see the
same files (or pass :class:`~haplan.Pool` objects, which pickle).

Without a ``client``, a ``LocalCluster`` of one single-threaded worker
process per core is started for the call and closed after it.

Every question is bounded as the methods of :class:`~haplan.Pool` are:
``time_limit_s`` (default 60 s; ``None``: no limit) and ``max_time_s``
(default 2 s) apply to each pool, and :func:`check_split`'s
``time_limit_s`` (default 60 s) to the whole split search.

:func:`check_split` runs one pool's check with its failure-set search split
into parts decided as Dask tasks; its report is the one :meth:`Pool.check
<haplan.Pool.check>` gives (the statistics aside, which count every part's
work).

Needs ``dask[distributed]`` and ``pandas``; :func:`to_parquet` needs
``pyarrow``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._pool import DEFAULT_MAX_TIME_S, DEFAULT_TIME_LIMIT_S, _UNSET, Changes, Demand, Pool, _budget, _count, _OldSeconds
from ._reports import Report

if TYPE_CHECKING:
    import pandas
    from distributed import Client

__all__ = ["check", "check_split", "headroom", "tiers", "to_parquet", "whatif"]

PathLike = Union[str, "os.PathLike[str]"]
PoolLike = Union[PathLike, Pool]
Row = Dict[str, Any]

# Columns every row has, first, in this order.
_FIRST = ["path", "pool", "question", "verdict", "error"]


def _flatten(data: Mapping[str, Any], prefix: str, row: Row, depth: int) -> None:
    """The answer's fields as columns: scalars as they are, objects one
    level down joined by ``_``, lists of scalars as lists, other lists as
    JSON text (so that every column has one type across rows)."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth > 0:
            _flatten(value, f"{name}_", row, depth - 1)
        elif isinstance(value, (dict, list)) and not (
            isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)
        ):
            row[name] = json.dumps(value, sort_keys=True)
        else:
            row[name] = value
    # The failing set's hosts, the column people filter on.
    witness = data.get("witness")
    if prefix == "" and isinstance(witness, dict):
        row["witness"] = list(witness.get("failed_hosts", []))


def _ask(question: str, pool: Pool, options: Mapping[str, Any]) -> Tuple[str, Mapping[str, Any]]:
    """One question to one pool: its verdict and JSON object (the
    report's own, not a copy: the report is dropped and the row only
    reads it)."""
    if question == "check":
        r: Any = pool.check(**options)
    elif question == "whatif":
        changes = options["changes"]
        rest = {k: v for k, v in options.items() if k != "changes"}
        r = pool.whatif(changes(pool) if callable(changes) else changes, **rest)
    elif question == "headroom":
        r = pool.headroom(**options)
    elif question == "tiers":
        r = pool.tiers(**options)
    else:  # pragma: no cover - the public functions name the question
        raise ValueError(f"unknown question {question!r}")
    data: Mapping[str, Any] = r._json
    return str(r.verdict), data


def _run_batch(question: str, items: List[Tuple[int, Optional[str], Any]], options: Mapping[str, Any]) -> List[Row]:
    """A task: each pool of the batch (a path or a Pool) asked `question`;
    every failure a row with its error."""
    rows = []
    for index, path, item in items:
        row: Row = {"_index": index, "path": path, "pool": None, "question": question, "error": None}
        try:
            pool = item if isinstance(item, Pool) else Pool.load(item)
            row["pool"] = pool.name
            verdict, data = _ask(question, pool, options)
        except Exception as e:  # every pool's failure is a row, never the run's end
            row["verdict"] = "error"
            row["error"] = str(e) or type(e).__name__
        else:
            row["verdict"] = verdict
            _flatten(data, "", row, 1)
            # The JSON's own `pool` is the name, as above; the verdict is ours.
            row["pool"] = pool.name
        rows.append(row)
    return rows


def _distributed() -> Any:
    """The ``distributed`` module (imported when first needed; parts of
    its API are untyped, so it is used as ``Any``)."""
    import distributed

    return distributed


@contextlib.contextmanager
def _client(client: Optional[Client]) -> Iterator[Any]:
    """The client given, or one on a LocalCluster of single-threaded
    worker processes (one per core) closed after use."""
    if client is not None:
        yield client
        return
    d = _distributed()
    with d.LocalCluster(
        n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, d.Client(cluster) as c:
        yield c


def _items(pools: Sequence[PoolLike]) -> List[Tuple[int, Optional[str], Any]]:
    items: List[Tuple[int, Optional[str], Any]] = []
    for i, p in enumerate(pools):
        if isinstance(p, Pool):
            items.append((i, None, p))
        elif isinstance(p, (str, os.PathLike)):
            items.append((i, os.fspath(p), os.fspath(p)))
        else:
            raise TypeError(f"pools[{i}] must be a path or a haplan.Pool, not {type(p).__name__}")
    return items


# Tasks per worker thread, and pools per task at least (see _batch_size).
_TASKS_PER_THREAD = 16
_MIN_BATCH = 8


def _batch_size(pools: int, workers: int) -> int:
    """Pools per task: about 16 tasks per worker thread, so that the last
    tasks, during which the other workers have nothing left to do, are
    short (a sixteenth of a worker's share of the fleet), and at least 8
    pools, so that a task's own cost (scheduling it, sending its rows
    back) stays small beside the solves of its pools."""
    return max(_MIN_BATCH, math.ceil(pools / (_TASKS_PER_THREAD * workers)))


def _fleet(
    question: str,
    pools: Union[PoolLike, Sequence[PoolLike]],
    client: Optional[Client],
    batch: Optional[int],
    options: Dict[str, Any],
) -> pandas.DataFrame:
    import pandas

    if isinstance(pools, (str, os.PathLike, Pool)):
        pools = [pools]
    items = _items(list(pools))
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a whole number of pools, at least 1, not {batch!r}")
    options["threads"] = _count(options.get("threads"), "threads")
    rows: List[Row] = []
    if items:
        with _client(client) as c:
            workers = max(1, sum(c.nthreads().values()))
            size = batch or _batch_size(len(items), workers)
            batches = [items[i : i + size] for i in range(0, len(items), size)]
            futures = c.map(
                _run_batch,
                [question] * len(batches),
                batches,
                [options] * len(batches),
                pure=False,
                retries=2,
            )
            for done in c.gather(futures):
                rows.extend(done)
    # Each pool once, in the order given, whatever order the tasks ended in.
    by_index = {r["_index"]: r for r in rows}
    if len(rows) != len(items) or sorted(by_index) != list(range(len(items))):
        raise RuntimeError("haplan: a task of the fleet lost or repeated a pool")
    ordered = [by_index[i] for i in range(len(items))]
    for r in ordered:
        del r["_index"]
    df = pandas.DataFrame(ordered)
    for col in _FIRST:
        if col not in df.columns:
            df[col] = None
    rest = [col for col in df.columns if col not in _FIRST]
    return df[_FIRST + rest].reset_index(drop=True)


def check(
    pools: Union[PoolLike, Sequence[PoolLike]],
    client: Optional[Client] = None,
    *,
    tolerate: Optional[int] = None,
    time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
    explain: bool = False,
    threads: Optional[int] = 1,
    batch: Optional[int] = None,
    max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
    time_limit: _OldSeconds = _UNSET,
    max_time: _OldSeconds = _UNSET,
) -> pandas.DataFrame:
    """:meth:`Pool.check <haplan.Pool.check>` of every pool (paths or
    :class:`~haplan.Pool` objects) on the Dask ``client``: one row per pool
    with ``max_tolerable``, ``ok``, ``exact``, ``upper_bound``,
    ``configured``, ``witness`` (the failing set's hosts) and the rest of
    the JSON's fields. ``batch`` pools per task (default: about 16 tasks
    per worker thread, at least 8 pools each); ``threads`` per solve (default 1).
    ``time_limit_s`` (default 60; ``None``: none) and ``max_time_s`` (default
    2: the time past K for the exact maximum) bound each pool's question,
    as ``Pool.check``'s and ``haplan fleet``'s do: a pool whose answer is
    not proved in time is a row with ``exact`` false and its bounds, or
    ``undecided``."""
    limit, most = _budget("haplan.fleet.check", time_limit_s, time_limit, max_time_s, max_time)
    return _fleet(
        "check",
        pools,
        client,
        batch,
        {
            "tolerate": tolerate,
            "time_limit_s": limit,
            "max_time_s": most,
            "explain": explain,
            "threads": threads,
        },
    )


def whatif(
    pools: Union[PoolLike, Sequence[PoolLike]],
    changes: Union[Changes, Callable[[Pool], Changes]],
    client: Optional[Client] = None,
    *,
    tolerate: Optional[int] = None,
    time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
    explain: bool = False,
    threads: Optional[int] = 1,
    batch: Optional[int] = None,
    max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
    time_limit: _OldSeconds = _UNSET,
    max_time: _OldSeconds = _UNSET,
) -> pandas.DataFrame:
    """:meth:`Pool.whatif <haplan.Pool.whatif>` of every pool: the same
    changes for all, or ``changes(pool)`` for each (a function, which must
    pickle: e.g. one that removes each pool's largest host). Columns
    ``before_max_tolerable``, ``after_max_tolerable``, ``ok``, ...; a
    change that does not fit a pool (an unknown host) is that row's
    error.
    ``time_limit_s`` and ``max_time_s`` bound each pool's question, as in
    :func:`check`."""
    limit, most = _budget("haplan.fleet.whatif", time_limit_s, time_limit, max_time_s, max_time)
    return _fleet(
        "whatif",
        pools,
        client,
        batch,
        {
            "changes": changes,
            "tolerate": tolerate,
            "time_limit_s": limit,
            "max_time_s": most,
            "explain": explain,
            "threads": threads,
        },
    )


def headroom(
    pools: Union[PoolLike, Sequence[PoolLike]],
    vm: Demand,
    client: Optional[Client] = None,
    *,
    storage: Union[None, str, Sequence[str]] = None,
    networks: Union[None, str, Sequence[str]] = None,
    tolerate: Optional[int] = None,
    time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
    threads: Optional[int] = 1,
    batch: Optional[int] = None,
    max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
    time_limit: _OldSeconds = _UNSET,
    max_time: _OldSeconds = _UNSET,
) -> pandas.DataFrame:
    """:meth:`Pool.headroom <haplan.Pool.headroom>` of every pool for one VM
    shape: ``max_additional`` and the rest of the JSON's fields.
    ``time_limit_s`` and ``max_time_s`` bound each pool's question, as in
    :func:`check`."""
    limit, most = _budget("haplan.fleet.headroom", time_limit_s, time_limit, max_time_s, max_time)
    return _fleet(
        "headroom",
        pools,
        client,
        batch,
        {
            "vm": vm,
            "storage": storage,
            "networks": networks,
            "tolerate": tolerate,
            "time_limit_s": limit,
            "max_time_s": most,
            "threads": threads,
        },
    )


def tiers(
    pools: Union[PoolLike, Sequence[PoolLike]],
    client: Optional[Client] = None,
    *,
    tolerate: Optional[int] = None,
    time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
    threads: Optional[int] = 1,
    batch: Optional[int] = None,
    max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
    time_limit: _OldSeconds = _UNSET,
    max_time: _OldSeconds = _UNSET,
) -> pandas.DataFrame:
    """:meth:`Pool.tiers <haplan.Pool.tiers>` of every pool (the per-tier
    tolerances as JSON text in ``tiers``).
    ``time_limit_s`` and ``max_time_s`` bound each pool's question, as in
    :func:`check`."""
    limit, most = _budget("haplan.fleet.tiers", time_limit_s, time_limit, max_time_s, max_time)
    return _fleet(
        "tiers",
        pools,
        client,
        batch,
        {
            "tolerate": tolerate,
            "time_limit_s": limit,
            "max_time_s": most,
            "threads": threads,
        },
    )


def to_parquet(df: pandas.DataFrame, path: PathLike) -> None:
    """Writes a fleet's DataFrame as Parquet (pyarrow), written to a
    temporary file beside ``path`` and renamed: never half-written."""
    target = os.fspath(path)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        df.to_parquet(tmp, engine="pyarrow", index=False)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def _search_part(pool: Pool, part: str, time_limit: Optional[float], threads: Optional[int]) -> str:
    """A task: one part of a split search."""
    return pool._inner.search_part(part, time_limit, threads)


def _found(answer: str) -> bool:
    return json.loads(answer)["found"] is not None


class _Rounds:
    """Has the parts of a split search's rounds decided as Dask tasks.

    A round's first part holds the sets the search meets first, where a
    failing set is likeliest (the ranking puts the hosts whose loss costs
    most first), and a part cannot be stopped once it runs: so it is
    decided before the rest of its round, which is submitted only when it
    found nothing (the rest of a round that fails there could cost far more
    than the search itself). The first parts of the rounds that may follow
    are submitted at once, before any round's rest, so that a long
    decision in one of them (a set only the exact solver refutes) runs
    beside the rounds before it; the rest of the next round is submitted
    once its first part found nothing, so that workers done with a round
    go on to the next one. Parts run in that order (Dask priorities);
    answers are kept by part (the text names its round and tasks), so a
    part decided ahead is not decided again when its round is asked."""

    # Every first part runs before every other part; then rounds in order,
    # each in the order of its parts.
    _FIRST = 1 << 40

    def __init__(self, client: Any, pool: Any, limit: Optional[float], threads: Optional[int]) -> None:
        self.client = client
        self.pool = pool
        self.limit = limit
        self.threads = threads
        self.futures: Dict[str, Any] = {}

    def _submit(self, text: str, k: int, index: int) -> Any:
        future = self.futures.get(text)
        if future is None:
            priority = self._FIRST - k if index == 0 else -(k << 20) - index
            future = self.client.submit(
                _search_part, self.pool, text, self.limit, self.threads, pure=False, retries=2, priority=priority
            )
            self.futures[text] = future
        return future

    def _rest(self, texts: List[str]) -> List[Any]:
        k = json.loads(texts[0])["k"]
        return [self._submit(t, k, i) for i, t in enumerate(texts) if i > 0]

    def _next(self, rounds: List[List[str]]) -> None:
        """The rest of the round after the current one, once its first part
        found nothing."""
        if len(rounds) < 2 or not rounds[1]:
            return
        first = self.futures.get(rounds[1][0])
        if first is not None and first.status == "finished" and not _found(first.result()):
            self._rest(rounds[1])

    def run(self, rounds: List[List[str]]) -> Optional[List[str]]:
        texts = rounds[0]
        if not texts:
            return []
        for r in rounds:
            if r:
                self._submit(r[0], json.loads(r[0])["k"], 0)
        first = self.futures[texts[0]].result()
        if _found(first):
            return [first]
        self._next(rounds)
        rest = self._rest(texts)
        position = {f.key: i for i, f in enumerate(rest, 1)}
        answers = [(0, first)]
        best: Optional[int] = None
        for future in _distributed().as_completed(rest):
            i = position[future.key]
            self._next(rounds)
            if best is not None and i > best:
                continue
            answer = future.result()
            answers.append((i, answer))
            if _found(answer) and (best is None or i < best):
                best = i
                # Parts are in the search's order: the ones after it
                # cannot change the answer.
                self.client.cancel([f for f in rest[i:] if not f.done()])
        # The merge needs each task up to the found one once, nothing after.
        return [a for i, a in answers if best is None or i <= best]

    def close(self) -> None:
        """Cancels every part not yet decided (a running one ends alone)."""
        self.client.cancel([f for f in self.futures.values() if not f.done()])
        self.futures.clear()


def check_split(
    pool: Union[PathLike, Pool],
    client: Optional[Client] = None,
    *,
    parts: Optional[int] = None,
    ahead: int = 8,
    tolerate: Optional[int] = None,
    time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
    explain: bool = False,
    threads: Optional[int] = None,
    part_threads: Optional[int] = 1,
    strategy: str = "full",
    time_limit: _OldSeconds = _UNSET,
) -> Report:
    """:meth:`Pool.check <haplan.Pool.check>` of one large pool, its
    failure-set search split across the Dask ``client``'s workers.

    The set-level bounds are computed here; the sets of each failure-set
    size k they leave open are cut into tasks by their first hosts (or
    failure domains) in the search's ranking, finer where more sets lie,
    and the tasks into ``parts`` parts of about equal work (default: eight
    per worker thread), each a task that searches its sets with the same
    pruning. The answer is the first failing set in the search's order, as
    in the single-process search, so the report equals :meth:`Pool.check`'s
    whatever the number of parts or workers (its ``stats`` count every
    part's work). Each size's first part is decided before its others,
    which are not run when it found a failing set, and parts after a part
    that found one are cancelled; the first parts of the next ``ahead``
    sizes (default 8; 0: none; never above the proved upper bound) are
    decided beside the current size's.
    ``part_threads`` threads per task (default 1); ``threads`` for the work
    done here; ``strategy`` as for :meth:`Pool.check <haplan.Pool.check>`
    (``"enumerate"``: no set-level bounds, so every k up to the answer is
    searched in parts). ``time_limit_s`` (default 60; ``None``: until the
    answer is exact) bounds the whole search: past it the report says what
    was proved, ``exact`` false.
    """
    if not isinstance(pool, Pool):
        pool = Pool.load(pool)
    tolerate = _count(tolerate, "tolerate")
    threads = _count(threads, "threads")
    part_threads = _count(part_threads, "threads")
    if parts is not None and (isinstance(parts, bool) or not isinstance(parts, int) or parts < 1):
        raise ValueError(f"parts must be a whole number, at least 1, not {parts!r}")
    if isinstance(ahead, bool) or not isinstance(ahead, int) or not 0 <= ahead <= 64:
        raise ValueError(f"ahead must be a whole number from 0 to 64, not {ahead!r}")
    limit, _ = _budget("haplan.fleet.check_split", time_limit_s, time_limit)
    with _client(client) as c:
        n = parts or 8 * max(1, sum(c.nthreads().values()))
        # A key of its own (not a hash of the pool): a key released by an
        # earlier call may still be on its way out of the scheduler.
        [shared] = c.scatter([pool], broadcast=True, hash=False)
        rounds = _Rounds(c, shared, limit, part_threads)
        try:
            data, text, verdict = pool._inner.check_split(
                rounds.run, n, ahead, tolerate, limit, bool(explain), threads, strategy
            )
        finally:
            rounds.close()
    return Report._from_native(data, text, verdict)
