"""The pool: read once, validated, immutable; asked questions."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._reports import (
    _deprecated,
    _no_cycle_collection,
    Agility,
    DiffReport,
    DrainReport,
    HeadroomReport,
    Plan,
    Report,
    TiersReport,
    TimingReport,
    WhatIfReport,
)

__all__ = ["DEFAULT_MAX_TIME_S", "DEFAULT_TIME_LIMIT_S", "Pool"]

DEFAULT_TIME_LIMIT_S: float = 60.0
"""Seconds a question may take by default (``time_limit_s``): it then
answers with what it proved. ``None`` is no limit."""

DEFAULT_MAX_TIME_S: float = 2.0
"""Seconds a tolerance check goes on by default, once K is decided, for
the exact ``max_tolerable`` (``max_time_s``; 0: stop at K; ``None``: until
the time limit)."""

# The names of the previous release, each kept for one more with a
# DeprecationWarning: the JSON answers and the C ABI say ``time_limit_s``
# and ``max_time_s`` (``--time-limit`` on the command line, in seconds).
_RENAMED_CONSTANTS = {
    "DEFAULT_TIME_LIMIT": "DEFAULT_TIME_LIMIT_S",
    "DEFAULT_MAX_TIME": "DEFAULT_MAX_TIME_S",
}
_USED_BY = "the JSON answers and the C ABI"


def _renamed_constant(module: str, name: str, stacklevel: int = 4) -> Any:
    """A constant of the previous release by its old ``name`` (warns), for
    a module's ``__getattr__``; ``AttributeError`` for any other name."""
    new = _RENAMED_CONSTANTS.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    _deprecated(f"haplan.{name}", f"haplan.{new}", _USED_BY, stacklevel)
    return globals()[new]


def __getattr__(name: str) -> Any:
    return _renamed_constant(__name__, name)


class _Unset:
    """The default of a deprecated keyword: not given."""

    def __repr__(self) -> str:
        return "<not given>"


_UNSET = _Unset()
# A deprecated seconds keyword: a number, None, or not given.
_OldSeconds = Union[float, None, _Unset]


def _renamed(where: str, old: str, old_value: Any, new: str, new_value: Any, default: Any) -> Any:
    """The value of keyword ``new``: ``old_value`` when it was given by its
    deprecated name ``old`` (which warns; ``new`` given too is a
    ``TypeError``), else ``new_value``."""
    if old_value is _UNSET:
        return new_value
    _deprecated(f"{where}({old}=...)", f"{new}=...", _USED_BY, 5)
    if new_value is not default and new_value != default:
        raise TypeError(f"{where} got both {old} and {new}")
    return old_value


def _budget(
    where: str,
    time_limit_s: Optional[float],
    time_limit: _OldSeconds,
    max_time_s: Optional[float] = None,
    max_time: _OldSeconds = _UNSET,
) -> Tuple[Optional[float], Optional[float]]:
    """A question's time limit and maximum time in seconds, each given by
    its name or by its deprecated one (``time_limit``, ``max_time``),
    checked."""
    limit = _renamed(where, "time_limit", time_limit, "time_limit_s", time_limit_s, DEFAULT_TIME_LIMIT_S)
    most = _renamed(where, "max_time", max_time, "max_time_s", max_time_s, DEFAULT_MAX_TIME_S)
    return _seconds(limit, "time_limit_s"), _seconds(most, "max_time_s")

PathLike = Union[str, "os.PathLike[str]"]
# What-if changes: the JSON text of a change file, or its data.
Changes = Union[str, bytes, Sequence[Mapping[str, Any]]]
# A headroom VM's demand: resource amounts, or their JSON text.
Demand = Union[str, bytes, Mapping[str, Any]]


def _count(value: Optional[int], name: str) -> Optional[int]:
    """A numeric option: ``TypeError`` if it is no int, ``ValueError`` with
    the command line's message if it is out of its range (the ranges are
    the core's, ``haplan::limits``: ``threads`` 1 to 1024, ``tolerate`` 0
    to 2**32 - 1, ...)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    _native.check_range(name, value)
    return value


def _seconds(value: Optional[float], name: str = "time_limit_s") -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    return float(value)


def _names(value: Union[None, str, Iterable[str]], name: str) -> List[str]:
    """Storage or network names: one name, or an iterable of them."""
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"{name} must be names (str), found {type(n).__name__}")
    return names


def _restore(text: str) -> Pool:
    """Unpickles a pool (module level, so that pickle can find it)."""
    return Pool(_native.Pool(text))


class Pool:
    """A validated pool (format ``haplan/v1``, ``docs/pool-format.md``).

    Build one with :meth:`load`, :meth:`from_json` or :meth:`from_dict`;
    a file with problems raises :class:`~haplan.InvalidPoolError` listing
    all of them. A pool never changes after it is built, so one pool can be
    used from several threads at once, and it pickles (as its JSON text),
    so Dask or Ray workers can receive it; forked worker processes can
    use it too.

    Every question runs in Rust without the GIL: other Python threads keep
    running, and Ctrl-C (``KeyboardInterrupt``) stops a long one within
    about 20 ms. Nothing runs without end unless asked: every question has
    a ``time_limit_s`` (default :data:`DEFAULT_TIME_LIMIT_S`, 60 s; ``None``
    for none), after which it answers with what it proved; the tolerance
    checks decide K first and then spend at most ``max_time_s`` (default
    :data:`DEFAULT_MAX_TIME_S`, 2 s) on the exact maximum. (Their names
    before, ``time_limit`` and ``max_time``, still work for one release,
    with a :class:`DeprecationWarning`.)

    >>> pool = Pool.from_dict({
    ...     "name": "demo",
    ...     "hosts": [{"name": "h1", "capacity": {"memory_mib": 262144}},
    ...               {"name": "h2", "capacity": {"memory_mib": 262144}}],
    ...     "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 122880}}],
    ... })
    >>> pool.check().max_tolerable
    1
    >>> [(p.vm, p.host) for p in pool.plan(failed=["h1"]).placements]
    [('a', 'h2')]
    """

    __slots__ = ("_inner",)
    _inner: _native.Pool

    def __init__(self, native: _native.Pool) -> None:
        """Internal: use :meth:`load`, :meth:`from_json` or :meth:`from_dict`."""
        if not isinstance(native, _native.Pool):
            raise TypeError(
                "use Pool.load(path), Pool.from_json(text) or Pool.from_dict(data) to build a Pool"
            )
        object.__setattr__(self, "_inner", native)

    # -- building --------------------------------------------------------

    @classmethod
    def from_json(cls, text: Union[str, bytes], *, source: Optional[str] = None) -> Pool:
        """Reads a pool from its JSON text. ``source`` names it in error
        messages (e.g. a file name)."""
        if isinstance(text, (bytes, bytearray)):
            # Decoded by the native module: invalid UTF-8 is an
            # InvalidPoolError at its line and column.
            return cls(_native.Pool(bytes(text), source))
        if not isinstance(text, str):
            raise TypeError(f"from_json expects str or bytes, not {type(text).__name__}")
        return cls(_native.Pool(text, source))

    @classmethod
    def load(cls, path: PathLike) -> Pool:
        """Reads a pool file (UTF-8 JSON). Every problem of the file, invalid
        UTF-8 included, is an :class:`~haplan.InvalidPoolError` whose message
        starts with the file's name (its ``source``), as the command line's
        does; ``OSError`` when it cannot be read."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_json(data, source=os.fspath(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: Optional[str] = None) -> Pool:
        """Reads a pool given as Python data, as ``json.load`` returns it
        (dicts, lists or tuples, str, int, float, bool, None). A value JSON
        cannot hold is a problem at its path, like any other."""
        return cls(_native.Pool.from_data(data, source))

    # -- what it is ------------------------------------------------------

    @property
    def name(self) -> str:
        """The pool's ``name``."""
        return self._inner.name

    @property
    def hosts(self) -> List[str]:
        """Host names, in file order."""
        return self._inner.host_names

    @property
    def vms(self) -> List[str]:
        """VM names, in file order."""
        return self._inner.vm_names

    @property
    def host_failures_to_tolerate(self) -> int:
        """The configured K (``ha.host_failures_to_tolerate``, default 1)."""
        return self._inner.host_failures_to_tolerate

    def to_json(self) -> str:
        """The JSON text the pool was read from (for :meth:`from_dict`, a
        compact serialisation of that data)."""
        return self._inner.to_json()

    def to_dict(self) -> Any:
        """The pool as Python data (``json.loads(pool.to_json())``)."""
        return json.loads(self.to_json())

    # -- questions -------------------------------------------------------

    def check(
        self,
        tolerate: Optional[int] = None,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        *,
        explain: bool = False,
        threads: Optional[int] = None,
        strategy: str = "full",
        max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
        time_limit: _OldSeconds = _UNSET,
        max_time: _OldSeconds = _UNSET,
    ) -> Report:
        """Decides whether the pool tolerates ``tolerate`` simultaneous host
        failures (default: the file's ``host_failures_to_tolerate``), and
        then the exact largest number it tolerates: ``haplan check``.

        An overcommitted pool is a :class:`Report` with ``ok`` false and a
        witness, not an exception. ``time_limit_s`` (seconds; ``None``: no
        limit) stops the search with proved bounds (``exact`` false;
        ``verdict`` undecided when they do not settle K); past it by 10 % +
        1 s with nothing proved (a very large pool still being set up),
        :class:`~haplan.TimeLimitError` is raised. ``max_time_s`` (seconds)
        bounds the search for the exact maximum once K is decided (0: stop
        at K; ``None``: until the time limit); ``stopped_by`` says which
        ended it. ``explain`` adds a witness even when the pool
        meets K. ``threads`` limits the worker threads (default: one per
        core); the answer never depends on it. ``strategy`` is for
        comparisons, as on the command line: ``"enumerate"`` decides every
        failure set one by one, ``"ilp-per-set"`` with one ILP each; both
        give the same answer, much more slowly.
        """
        limit, most = _budget("Pool.check", time_limit_s, time_limit, max_time_s, max_time)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        data, text, verdict = self._inner.check(tolerate, limit, bool(explain), threads, strategy, most)
        return Report._from_native(data, text, verdict)

    def plan(
        self,
        failed: Union[str, Iterable[str]],
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        *,
        time_limit: _OldSeconds = _UNSET,
    ) -> Plan:
        """The restart plan if exactly the hosts ``failed`` fail now (a host
        name or a list of them): ``haplan plan --fail``.

        Raises :class:`~haplan.QueryError` for a name that is no host, or a
        host in maintenance (which cannot fail)."""
        limit, _ = _budget("Pool.plan", time_limit_s, time_limit)
        names = [failed] if isinstance(failed, str) else list(failed)
        for n in names:
            if not isinstance(n, str):
                raise TypeError(f"failed must be host names (str), found {type(n).__name__}")
        data, text = self._inner.plan(names, limit)
        return Plan._from_native(data, text)

    def agility(self, time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S) -> Agility:
        """For every protected running or paused VM, the hosts it could
        restart on, capacity aside, or every reason why none: ``haplan
        agility``.

        The answer names about hosts times VMs hosts (each host's name one
        ``str`` the lists share); ``time_limit_s`` (``None``: none) bounds
        making it, as on the command line: past it, within 10 % + 1 s,
        :class:`~haplan.TimeLimitError`."""
        with _no_cycle_collection():
            return Agility._from_native(self._inner.agility(_seconds(time_limit_s)))

    def whatif(
        self,
        changes: Changes,
        *,
        tolerate: Optional[int] = None,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        explain: bool = False,
        threads: Optional[int] = None,
        source: Optional[str] = None,
        max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
        time_limit: _OldSeconds = _UNSET,
        max_time: _OldSeconds = _UNSET,
    ) -> WhatIfReport:
        """What the pool would tolerate after ``changes``: ``haplan whatif``.
        The pool itself does not change; the changed one is the report's
        ``changed_pool``.

        ``changes`` is a list of change objects in the format of
        ``docs/whatif.md`` (add, remove or resize a host or a VM, put a host
        in maintenance, change a VM's priority or restart class, change k),
        as Python data (dicts in a list, as ``json.load`` returns them) or
        as the JSON text of a change file::

            pool.whatif([
                {"op": "remove_host", "name": "h4", "vms": "move", "to": "h3"},
                {"op": "set_tolerance", "k": 2},
            ])

        Changes apply in order, all or nothing: any invalid change raises
        :class:`~haplan.InvalidChangesError` listing every problem at its
        change (``changes[1].name: unknown VM "db9"``); ``source`` names the
        changes in its message (e.g. a file name).

        Both pools are checked as :meth:`check` does: ``tolerate`` is K for
        both, otherwise each has its own ``host_failures_to_tolerate`` (the
        changed pool's after a ``set_tolerance``); ``time_limit_s`` (seconds)
        covers both checks together, the changed pool first; ``max_time_s``
        (for each check), ``explain`` and ``threads`` as for :meth:`check`.
        The report's ``verdict`` is that of the changed pool.
        """
        limit, most = _budget("Pool.whatif", time_limit_s, time_limit, max_time_s, max_time)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        if isinstance(changes, (bytes, bytearray)):
            changes = bytes(changes).decode("utf-8")
        if source is not None and not isinstance(source, str):
            raise TypeError(f"source must be a str or None, not {type(source).__name__}")
        data, text, _, before, after, changed = self._inner.whatif(
            changes, source, tolerate, limit, bool(explain), threads, most
        )
        return WhatIfReport._from_native(data, text, before, after, Pool(changed))

    def what_if(self, changes: Changes, **options: Any) -> WhatIfReport:
        """Deprecated alias of :meth:`whatif` (``haplan whatif``), kept for
        one release: warns with a :class:`DeprecationWarning`."""
        _deprecated("Pool.what_if", "Pool.whatif")
        return self.whatif(changes, **options)

    def diff(
        self,
        new: Pool,
        *,
        tolerate: Optional[int] = None,
        no_regress: bool = False,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        explain: bool = False,
        threads: Optional[int] = None,
        max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
        time_limit: _OldSeconds = _UNSET,
        max_time: _OldSeconds = _UNSET,
    ) -> DiffReport:
        """Compares ``new``, a new version of this pool, against the policy:
        ``haplan diff OLD NEW`` with this pool as OLD, for CI.

        Both pools are checked against the same K: ``tolerate``, or
        ``new``'s ``host_failures_to_tolerate``. The report is not ok (its
        ``verdict`` ``NOT_OK``, ``exit_code`` 1) when ``new``'s own check is
        not ok (it tolerates fewer than K host failures, a protected VM in
        it is not agile, or VMs of hosts already down cannot restart) or,
        with ``no_regress``, when it is proved to tolerate fewer host
        failures than this pool (removing VMs or adding capacity never
        does: ``no_worse``; a regression the budget left open fails
        nothing, since ``new`` only has to reach min(this pool's, K)).
        ``time_limit_s`` (seconds) covers both checks together, ``new`` first;
        when it leaves ``new``'s own check open the verdict is
        ``UNDECIDED``. ``max_time_s`` (for each check), ``explain`` and
        ``threads`` as for :meth:`check`. Besides the verdict, the report
        lists what changed: hosts and VMs added and removed (matched by
        name), protected VMs removed, VMs that lost protection, protected
        VMs newly not agile.
        """
        if not isinstance(new, Pool):
            raise TypeError(f"diff expects a Pool to compare with, not {type(new).__name__}")
        limit, most = _budget("Pool.diff", time_limit_s, time_limit, max_time_s, max_time)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        data, text, verdict, old_check, new_check = self._inner.diff(
            new._inner,
            tolerate,
            bool(no_regress),
            limit,
            bool(explain),
            threads,
            most,
        )
        return DiffReport._from_native(data, text, verdict, old_check, new_check)

    def headroom(
        self,
        vm: Demand,
        *,
        storage: Union[None, str, Iterable[str]] = None,
        networks: Union[None, str, Iterable[str]] = None,
        tolerate: Optional[int] = None,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        threads: Optional[int] = None,
        max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
        time_limit: _OldSeconds = _UNSET,
        max_time: _OldSeconds = _UNSET,
    ) -> HeadroomReport:
        """How many more protected VMs of one shape can start with the pool
        still tolerating ``tolerate`` host failures (default: the file's
        ``host_failures_to_tolerate``): ``haplan headroom --vm``. Exact,
        with a placement that achieves the count (verified by a tolerance
        check), why one more does not fit, and per host how many fit there
        alone::

            r = pool.headroom({"memory_mib": 32768, "vcpus": 8}, networks=["dmz"])
            r.max_additional, [(p.host, p.count) for p in r.placement]

        ``vm`` is the VM's demand, resource amounts as in a pool file (a
        dict, or its JSON text, as ``--vm`` takes it); ``storage`` and
        ``networks`` are what its disks and NICs need (a name or a list).
        A bad shape (a negative or fractional amount, no positive amount,
        a resource the pool does not know, an empty name) raises
        :class:`~haplan.InvalidShapeError` listing every problem
        (``--vm.vcpus: must be an integer, found 2.5``); a VM so small that
        more than 100000 could fit raises :class:`~haplan.QueryError`.

        The report's ``verdict`` is ``NOT_OK`` when the pool as it is fails
        its check against K (the headroom is then 0). ``time_limit_s``
        (seconds) returns proved bounds (``exact`` false, ``verdict``
        ``UNDECIDED``); ``max_time_s`` bounds the search for the exact
        ``check.max_tolerable`` of the pool as it is (the count does not
        need it), and so does a tenth of ``time_limit_s``; ``threads`` as
        for :meth:`check`.
        """
        limit, most = _budget("Pool.headroom", time_limit_s, time_limit, max_time_s, max_time)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        if isinstance(vm, (bytes, bytearray)):
            vm = bytes(vm).decode("utf-8")
        data, text, verdict, check = self._inner.headroom(
            vm,
            _names(storage, "storage"),
            _names(networks, "networks"),
            tolerate,
            limit,
            threads,
            most,
        )
        return HeadroomReport._from_native(data, text, verdict, check)

    def drain(
        self,
        host: str,
        tolerate: Optional[int] = None,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        *,
        threads: Optional[int] = None,
        max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
        time_limit: _OldSeconds = _UNSET,
        max_time: _OldSeconds = _UNSET,
    ) -> DrainReport:
        """Whether ``host`` can go into maintenance, its running and paused
        VMs live-migrated to other hosts, with the pool still tolerating
        ``tolerate`` host failures (default: the file's
        ``host_failures_to_tolerate``): ``haplan drain``. Exact: a migration
        plan whose end state a tolerance check passed, or a proof that none
        exists::

            r = pool.drain("h1")
            if r.ok:
                [(m.vm, m.to) for m in r.moves]
            else:
                r.reason

        An unknown host, or one that is already in maintenance or down,
        raises :class:`~haplan.QueryError`. ``time_limit_s`` (seconds) may
        leave the answer ``UNDECIDED``; ``max_time_s`` bounds the search for
        the exact ``max_tolerable`` of the end state; ``threads`` as for
        :meth:`check`.
        """
        if not isinstance(host, str):
            raise TypeError(f"host must be a host name (str), not {type(host).__name__}")
        limit, most = _budget("Pool.drain", time_limit_s, time_limit, max_time_s, max_time)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        data, text, verdict, end = self._inner.drain(host, tolerate, limit, threads, most)
        return DrainReport._from_native(data, text, verdict, end)

    def tiers(
        self,
        tolerate: Optional[int] = None,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        *,
        threads: Optional[int] = None,
        max_time_s: Optional[float] = DEFAULT_MAX_TIME_S,
        time_limit: _OldSeconds = _UNSET,
        max_time: _OldSeconds = _UNSET,
    ) -> TiersReport:
        """The tolerance of each restart-priority tier and what degrades
        beyond the pool's: ``haplan tiers``. Tier *p* is every protected
        running or paused VM of priority *p* or higher (``critical``
        highest); its tolerance is the largest k such that every set of k
        hosts (failure domains, with ``ha.failure_domain_label``) can fail
        and every VM of the tier still restarts, the VMs of lower tiers
        keeping their resources while their host runs. The lowest tier is
        the whole pool, so its tolerance is :meth:`check`'s. Then, for each
        k from the pool's tolerance + 1 to the highest tier's + 1, the
        tiers still safe, those lost, the VMs at risk, and an example
        failure with what its restart plan strands::

            r = pool.tiers()
            [(t.priority, t.max_tolerable) for t in r.tiers]
            [(d.failures, d.safe_tiers, d.at_risk) for d in r.degradation]

        ``tolerate`` is K for the verdict (default: the file's
        ``host_failures_to_tolerate``), which is the pool's check: ``OK``
        or ``NOT_OK``. ``time_limit_s`` (seconds, every tier together) returns
        proved bounds (``exact`` false; ``verdict`` ``UNDECIDED`` when the
        pool is ok but a tier or a row is left open); each tier's tolerance
        is its check's maximum, bounded by ``max_time_s`` (``None`` for exact
        tiers on a large pool); ``threads`` as for :meth:`check`.
        """
        limit, most = _budget("Pool.tiers", time_limit_s, time_limit, max_time_s, max_time)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        data, text, verdict = self._inner.tiers(tolerate, limit, threads, most)
        return TiersReport._from_native(data, text, verdict)

    def timing(
        self,
        tolerate: Optional[int] = None,
        boot_time_s: int = 60,
        concurrency: Optional[int] = None,
        fence_time_s: int = 0,
        fail: Union[None, str, Iterable[str]] = None,
        *,
        threads: Optional[int] = None,
        time_limit_s: Optional[float] = DEFAULT_TIME_LIMIT_S,
        time_limit: _OldSeconds = _UNSET,
    ) -> TimingReport:
        """How long after the worst failure of at most ``tolerate`` hosts
        (default: the file's ``host_failures_to_tolerate``) every protected
        VM runs again: ``haplan timing``. Detection
        (``failure_threshold × check_interval_s``), fencing (``fence_time_s``
        seconds: how long your fence agents take) and the restart schedule
        the HA runtime follows: order groups, start delays, each VM's
        ``boot_time_s`` (the ``boot_time_s`` given here for VMs without
        one), at most ``concurrency`` starts at once (``None``: no limit,
        as the runtime)::

            r = pool.timing(tolerate=2, concurrency=4)
            r.total_s, r.failed_hosts, r.last_vm

        The pool must tolerate K: when it does not, the report has no
        estimate (``tolerated`` false, ``witness`` says why, ``verdict``
        ``NOT_OK``). Every failure set of K hosts is scheduled when there
        are at most 200,000; beyond that a greedy search gives a lower
        bound (``exact`` false, a warning).

        ``fail`` (a host name or a list of them) times exactly that failure
        set instead (the pool need not tolerate it; VMs the plan cannot
        place are in ``not_restarted`` and the verdict is ``NOT_OK``); it
        cannot be combined with ``tolerate``. Raises
        :class:`~haplan.QueryError` for a name that is no host or a host in
        maintenance, :class:`ValueError` for ``concurrency`` 0, a negative
        time or ``tolerate`` with ``fail``. ``threads`` as for
        :meth:`check`. ``time_limit_s`` (seconds): when it runs out before K
        is decided there is no estimate (``verdict`` ``UNDECIDED``); when it
        runs out while failure sets are scheduled, the worst so far is the
        estimate (``search`` ``"partial"``, ``exact`` false).
        """
        limit, _ = _budget("Pool.timing", time_limit_s, time_limit)
        tolerate = _count(tolerate, "tolerate")
        threads = _count(threads, "threads")
        for name, value in (("boot_time_s", boot_time_s), ("fence_time_s", fence_time_s)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be a whole number of seconds (int), not {type(value).__name__}")
            _native.check_range(name, value)
        concurrency = _count(concurrency, "concurrency")
        names: Optional[List[str]] = None
        if fail is not None:
            names = [fail] if isinstance(fail, str) else list(fail)
            for n in names:
                if not isinstance(n, str):
                    raise TypeError(f"fail must be host names (str), found {type(n).__name__}")
        data, text, verdict = self._inner.timing(
            tolerate, boot_time_s, concurrency, fence_time_s, names, threads, limit
        )
        return TimingReport._from_native(data, text, verdict)

    def restart_time(self, *args: Any, **options: Any) -> TimingReport:
        """Deprecated alias of :meth:`timing` (``haplan timing``), kept for
        one release, with its old keyword names ``boot_time`` and
        ``fence_time`` (now ``boot_time_s`` and ``fence_time_s``): warns
        with a :class:`DeprecationWarning`."""
        _deprecated("Pool.restart_time", "Pool.timing")
        for old in ("boot_time", "fence_time"):
            if old in options:
                new = old + "_s"
                if new in options:
                    raise TypeError(f"restart_time got both {old} and {new}")
                options[new] = options.pop(old)
        return self.timing(*args, **options)

    # -- Python protocols --------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Pool is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a Pool is immutable")

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        return (_restore, (self.to_json(),))

    def __copy__(self) -> Pool:
        return self

    def __deepcopy__(self, memo: Any) -> Pool:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pool):
            return NotImplemented
        return bool(self._inner == other._inner)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Pool {self.name!r}: {len(self.hosts)} hosts, {len(self.vms)} VMs>"
