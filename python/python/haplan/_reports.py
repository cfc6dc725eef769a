"""The answers: :class:`Report` (``check``), :class:`Plan` (``plan``),
:class:`Agility` (``agility``), :class:`WhatIfReport` (``whatif``),
:class:`DiffReport` (``diff``), :class:`HeadroomReport` (``headroom``),
:class:`DrainReport` (``drain``), :class:`TiersReport` (``tiers``) and
:class:`TimingReport` (``timing``).

Each carries exactly the fields of the command line's JSON
(``docs/cli.md``) as attributes, ``to_dict()`` returns that JSON object
itself, and ``str()`` the command line's text output. In a notebook the
answers of ``check``, ``whatif``, ``diff``, ``headroom``, ``tiers`` and
``timing`` show as HTML drawn by the renderer of ``haplan report``;
``Report.to_markdown()`` and ``DiffReport.to_markdown()`` give the Markdown
of ``--format markdown``. They are built by :class:`haplan.Pool`, not by
hand.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import html
import json
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

from . import _native


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while an answer's many containers
    are made (they hold no cycles: reference counts free them). Each full
    collection walks every list made so far, which made copying the
    agility answer of 2000 hosts and 100,000 VMs take 8 s instead of 1."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

if TYPE_CHECKING:
    from ._pool import Pool

__all__ = [
    "Agility",
    "BrokenRule",
    "Degradation",
    "DegradationExample",
    "DiffReport",
    "DrainBlock",
    "DrainReport",
    "DrainStats",
    "FailureDomain",
    "FailureDomains",
    "GroupTiming",
    "HeadroomLimit",
    "HeadroomReport",
    "HeadroomStats",
    "HostCount",
    "HostHeadroom",
    "HostReason",
    "LostProtection",
    "Move",
    "NotAgile",
    "NotRestarted",
    "Placement",
    "Plan",
    "PriorityValue",
    "Report",
    "Short",
    "SoftRules",
    "SoftWitness",
    "Stats",
    "StuckVm",
    "TierTolerance",
    "TiersReport",
    "TimingReport",
    "TimingStats",
    "Unplaced",
    "Verdict",
    "VmAgility",
    "VmShape",
    "VmTiming",
    "WhatIfReport",
    "Witness",
]

JsonDict = Dict[str, Any]

PriorityValue = Union[str, int]
"""A VM's priority as answers give it: one of the names ``"critical"``,
``"high"``, ``"medium"``, ``"low"`` when it equals their value (4000,
3000, 2000, 1000), else its number (``3500``); higher is more important."""


def _deprecated(
    old: str,
    new: str,
    used_by: str = "the command line, the JSON answers and the C ABI",
    stacklevel: int = 3,
) -> None:
    """Warns that ``old`` is an alias kept for one release: ``new`` is the
    name ``used_by`` use (a JSON key that is a Python keyword, ``from``, is
    that key with an underscore appended, ``from_``). ``stacklevel`` as for
    the :func:`warnings.warn` made here (3: where the function that calls
    this one was called)."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release: use {new}, "
        f"the name {used_by} use",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def _render(kind: str, fmt: str, answer: JsonDict) -> str:
    """An answer's JSON rendered by ``haplan-html`` (``_native.render``)."""
    return _native.render(kind, fmt, json.dumps(answer, ensure_ascii=False))
# The text and verdict of a check nested in a what-if, a diff or a headroom.
Nested = Tuple[str, str]


class Verdict(str, Enum):
    """The verdict of an answer (every one but a drain's, which is a
    :class:`DrainVerdict`), as its JSON's ``verdict`` and the command
    line's exit code give it. A string enum: each verdict equals its
    string (``Verdict.NOT_OK == "not_ok"``), as JSON answers write it."""

    OK = "ok"
    """The pool meets the K asked for (exit 0)."""
    NOT_OK = "not_ok"
    """Overcommitted, VMs already stranded, or a protected VM is not agile (exit 1)."""
    UNDECIDED = "undecided"
    """The time limit ran out before the answer was proved either way (exit 3)."""

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan check`` gives for this verdict."""
        return {"ok": 0, "not_ok": 1, "undecided": 3}[self.value]

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class DrainVerdict(str, Enum):
    """The verdict of a drain (:meth:`haplan.Pool.drain`), as
    ``haplan drain --format json`` writes it in ``verdict``; equal to that
    string (``DrainVerdict.BLOCKED == "blocked"``)."""

    DRAINABLE = "drainable"
    """The host can be drained with the pool still tolerating K (exit 0)."""
    BLOCKED = "blocked"
    """Proved impossible (exit 1)."""
    UNDECIDED = "undecided"
    """A time limit or the search's limit ran out first (exit 3)."""

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan drain`` gives for this verdict."""
        return {"drainable": 0, "blocked": 1, "undecided": 3}[self.value]

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


@dataclass(frozen=True)
class Short:
    """A resource short in aggregate: the VMs to restart need ``needed``,
    the surviving hosts have ``spare``; ``deficit = needed - spare``."""

    resource: str
    needed: int
    spare: int
    deficit: int


@dataclass(frozen=True)
class Witness:
    """A failure set that cannot be survived, and what it strands.

    ``failed_hosts`` is empty when even no further failure can be survived
    (VMs of hosts already down cannot all restart: ``stranded_now``).
    ``unplaced`` are the protected VMs the best partial plan for that set
    cannot restart. ``failed_domains``: the failure domains those hosts
    make up, when the pool has ``ha.failure_domain_label`` (else ``None``).
    ``explained`` is false when the time limit left no time to work out
    the VMs the set strands (``unplaced`` is then empty)."""

    failed_hosts: List[str]
    unplaced: List[str]
    reason: str
    short: Optional[Short] = None
    failed_domains: Optional[List[str]] = None
    explained: bool = True


def _witness(w: Optional[JsonDict]) -> Optional[Witness]:
    """A ``witness`` of the JSON (``None`` stays ``None``)."""
    if w is None:
        return None
    short = w.get("short")
    domains = w.get("failed_domains")
    return Witness(
        failed_hosts=list(w["failed_hosts"]),
        unplaced=list(w["unplaced"]),
        reason=w["reason"],
        short=Short(**_known(Short, short)) if short is not None else None,
        failed_domains=list(domains) if domains is not None else None,
        explained=bool(w.get("explained", True)),
    )


@dataclass(frozen=True)
class BrokenRule:
    """A soft rule a restart plan breaks, and what breaks it: ``rule`` is
    ``"group"`` (a ``vm_groups`` entry with ``strict: false``, named by
    ``group``) or ``"preferred_hosts"`` (those of the VM ``vm``); the
    other name is ``None``. ``reason`` in an admin's words (``group web
    (apart, at most 1 per host): web1 and web2 on h2``)."""

    rule: str
    reason: str
    group: Optional[str] = None
    vm: Optional[str] = None


def _broken(items: List[JsonDict]) -> List[BrokenRule]:
    return [BrokenRule(rule=b["rule"], reason=b["reason"], group=b.get("group"), vm=b.get("vm")) for b in items]


@dataclass(frozen=True)
class SoftWitness:
    """A failure set one larger than the soft tolerance
    (:attr:`SoftRules.max_tolerable`) whose restart plan has to break the
    soft rules ``broken`` (:class:`BrokenRule`)."""

    failed_hosts: List[str]
    broken: List[BrokenRule]


@dataclass(frozen=True)
class SoftRules:
    """The soft rules of a check (``soft_rules`` of ``haplan check --format
    json``), for a pool that has any (soft ``vm_groups``, ``preferred_hosts``):

    - ``rules``: how many (soft groups plus VMs with preferred hosts).
    - ``max_tolerable``, ``upper_bound``, ``exact``: the tolerance with
      every soft rule taken as strict (never more than the pool's own).
    - ``must_break``: whether the worst failure of at most K (and at most
      what the pool tolerates) has to break a soft rule; ``None`` when a
      time limit left it open. Soft rules never change the verdict.
    - ``witness`` (:class:`SoftWitness`): a failure set one larger than the
      soft tolerance, with the rules its plan breaks, or ``None``."""

    rules: int
    max_tolerable: int
    upper_bound: int
    exact: bool
    must_break: Optional[bool]
    witness: Optional[SoftWitness]

    @classmethod
    def _from_json(cls, data: Optional[JsonDict]) -> Optional[SoftRules]:
        if data is None:
            return None
        w = data.get("witness")
        return cls(
            rules=data["rules"],
            max_tolerable=data["max_tolerable"],
            upper_bound=data["upper_bound"],
            exact=data["exact"],
            must_break=data.get("must_break"),
            witness=(
                SoftWitness(failed_hosts=list(w["failed_hosts"]), broken=_broken(w["broken"]))
                if w is not None
                else None
            ),
        )


@dataclass(frozen=True)
class FailureDomain:
    """One failure domain: the hosts sharing a value of the label
    (``labelled``), or a host without the label, a domain of its own."""

    name: str
    labelled: bool
    hosts: List[str]


@dataclass(frozen=True)
class FailureDomains:
    """The failure domains k counts, with ``ha.failure_domain_label``:
    the ``label`` and every domain, in the order of the JSON."""

    label: str
    domains: List[FailureDomain]

    @classmethod
    def _from_json(cls, data: Optional[JsonDict]) -> Optional[FailureDomains]:
        if data is None:
            return None
        return cls(
            label=data["label"],
            domains=[
                FailureDomain(name=d["name"], labelled=d["labelled"], hosts=list(d["hosts"])) for d in data["domains"]
            ],
        )


@dataclass(frozen=True)
class NotAgile:
    """A protected VM that no other host can restart, with every reason."""

    vm: str
    reasons: List[str]


@dataclass(frozen=True)
class Stats:
    """How the check was decided. Free-form in the JSON contract: fields may
    be added; ``scenarios`` counts failure sets decided one by one,
    ``set_level`` decisions that settled many sets at once."""

    scenarios: int = 0
    elapsed_ms: int = 0
    by_bounds: int = 0
    by_heuristic: int = 0
    by_search: int = 0
    by_ilp: int = 0
    set_level: int = 0
    k_decided_ms: Optional[int] = None
    """How long deciding K took (``None``: it was not decided)."""


def _known(cls: type, data: JsonDict) -> JsonDict:
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def _esc(value: object) -> str:
    return html.escape(str(value))


def _html_list(items: List[str]) -> str:
    return ", ".join(_esc(i) for i in items) if items else "<i>none</i>"


_STYLE = "border-collapse:collapse;text-align:left"
_COLOURS = {"ok": "#1a7f37", "not_ok": "#cf222e", "undecided": "#9a6700"}


def _table(header: List[str], rows: List[List[str]]) -> str:
    head = "".join(f"<th style='text-align:left;padding:0 .6em'>{h}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:0 .6em'>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table style='{_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True, repr=False)
class Report:
    """The answer of :meth:`haplan.Pool.check`: does the pool tolerate K
    simultaneous host failures, and if not, which failure set breaks it.

    The attributes are the fields of ``haplan check --format json``:

    - ``max_tolerable``: the largest k such that every set of k up hosts
      can fail at once; exact when ``exact``, otherwise a proved lower bound
      (and ``upper_bound`` a proved upper bound), after a time limit.
    - ``configured``: the K checked against; ``ok``: the pool meets it and
      every protected VM is agile.
    - ``witness``: a failure set of size ``max_tolerable + 1`` that cannot
      be survived (when the pool does not meet K, or with ``explain``).
    - ``not_agile``, ``warnings``, ``stranded_now``, ``stats``.
    - ``failure_domains`` (:class:`FailureDomains`): the domains k counts
      when the pool has ``ha.failure_domain_label``, else ``None``; the
      witness then also names its ``failed_domains``.
    - ``soft_rules`` (:class:`SoftRules`): for a pool with soft rules
      (``vm_groups`` with ``strict: false``, ``preferred_hosts``), the
      tolerance with them kept and whether the worst tolerated failure has
      to break one; ``None`` for a pool without.
    - ``stopped_by``: ``None`` when ``exact``, else what ended the search
      for the exact maximum: ``"max_time"`` (K was decided, ``max_time``
      ran out), ``"time_limit"`` or ``"cancelled"``.

    K is decided first; ``verdict`` is what the exit code says: ``ok``,
    ``not_ok`` or ``undecided`` (only when K itself is open).
    ``to_dict()`` is the JSON object, ``str(report)`` the text output.
    """

    pool: str
    configured: int
    max_tolerable: int
    ok: bool
    exact: bool
    upper_bound: int
    witness: Optional[Witness]
    not_agile: List[NotAgile]
    warnings: List[str]
    stranded_now: bool
    failure_domains: Optional[FailureDomains]
    stats: Stats
    verdict: Verdict
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)
    stopped_by: Optional[str] = None
    soft_rules: Optional[SoftRules] = None

    @classmethod
    def _from_native(cls, data: JsonDict, text: str, verdict: str) -> Report:
        return cls(
            pool=data["pool"],
            configured=data["configured"],
            max_tolerable=data["max_tolerable"],
            ok=data["ok"],
            exact=data["exact"],
            upper_bound=data["upper_bound"],
            witness=_witness(data.get("witness")),
            not_agile=[NotAgile(vm=n["vm"], reasons=list(n["reasons"])) for n in data["not_agile"]],
            warnings=list(data["warnings"]),
            stranded_now=data.get("stranded_now", False),
            failure_domains=FailureDomains._from_json(data.get("failure_domains")),
            stats=Stats(**_known(Stats, data.get("stats", {}))),
            verdict=Verdict(verdict),
            text=text,
            _json=data,
            stopped_by=data.get("stopped_by"),
            soft_rules=SoftRules._from_json(data.get("soft_rules")),
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan check`` gives: 0 ok, 1 not ok, 3 undecided."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The report as the JSON object of ``haplan check --format json``
        (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Report {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        """The answer as HTML (a notebook shows it), by the renderer of
        ``haplan report``."""
        return _render("check", "html", self._json)

    def to_markdown(self) -> str:
        """The answer as ``haplan check --format markdown`` prints it: the
        verdict and a compact table, for a pull-request comment."""
        return _render("check", "markdown", self._json)


@dataclass(frozen=True)
class Placement:
    """One VM restarted on ``host``, in restart sequence."""

    vm: str
    host: str
    order: int
    restart: str
    priority: PriorityValue
    start_delay_s: int


@dataclass(frozen=True)
class Unplaced:
    """A protected or best-effort VM the plan cannot restart, and why."""

    vm: str
    reason: str
    restart: str
    priority: PriorityValue


@dataclass(frozen=True, repr=False)
class Plan:
    """The answer of :meth:`haplan.Pool.plan`: where every VM of the failed
    hosts restarts, in restart order, and what cannot.

    The attributes are the fields of ``haplan plan --format json``:
    ``failed_hosts``, ``placements`` (protected VMs before best-effort
    ones, in restart sequence), ``unplaced``, ``complete`` (every protected
    VM placed), ``exact`` (false when some VM was not decided within the
    time limit or its share of it) and ``verdict`` (``ok``: complete;
    ``not_ok``: proved not, which a large failure set may prove before
    every VM is decided, so ``exact`` can then be false; ``undecided``:
    the time limit ran out before either was proved); for
    a pool with soft rules, ``soft_broken``: the ones the plan breaks
    (:class:`BrokenRule`, empty when it keeps them all; ``None`` for a
    pool without soft rules). A ``priority`` is a name or a number
    (:data:`PriorityValue`).
    ``to_dict()`` is the JSON object, ``str(plan)`` the text output.
    """

    failed_hosts: List[str]
    placements: List[Placement]
    unplaced: List[Unplaced]
    complete: bool
    exact: bool
    verdict: Verdict
    text: str = field(compare=False)
    """The command line's text output (``str(plan)``)."""
    _json: JsonDict = field(compare=False)
    soft_broken: Optional[List[BrokenRule]] = None

    @classmethod
    def _from_native(cls, data: JsonDict, text: str) -> Plan:
        return cls(
            failed_hosts=list(data["failed_hosts"]),
            placements=[Placement(**_known(Placement, p)) for p in data["placements"]],
            unplaced=[Unplaced(**_known(Unplaced, u)) for u in data["unplaced"]],
            complete=data["complete"],
            exact=data["exact"],
            verdict=Verdict(data["verdict"]),
            text=text,
            _json=data,
            soft_broken=_broken(data["soft_broken"]) if "soft_broken" in data else None,
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan plan`` gives: 0 every protected VM placed,
        1 not, 3 the time limit ran out before that was decided."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The plan as the JSON object of ``haplan plan --format json``
        (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return (
            f"<Plan {self.text.splitlines()[0]} "
            f"({len(self.placements)} placed, {len(self.unplaced)} unplaced)>"
        )

    def _repr_html_(self) -> str:
        first = self.text.splitlines()[0]
        verdict, _, rest = first.partition(": ")
        colour = _COLOURS["ok" if self.complete else "not_ok"]
        out = [f"<div><b style='color:{colour}'>{_esc(verdict)}</b>: {_esc(rest)}"]
        if self.placements:
            out.append(
                _table(
                    ["order", "vm", "host", "restart", "priority", "start_delay_s"],
                    [
                        [_esc(p.order), _esc(p.vm), _esc(p.host), _esc(p.restart), _esc(p.priority), _esc(p.start_delay_s)]
                        for p in self.placements
                    ],
                )
            )
        if self.unplaced:
            out.append("<p><b>Not restarted</b></p>")
            out.append(
                _table(
                    ["vm", "restart", "priority", "reason"],
                    [[_esc(u.vm), _esc(u.restart), _esc(u.priority), _esc(u.reason)] for u in self.unplaced],
                )
            )
        if self.soft_broken:
            out.append("<p><b>Soft rules broken</b></p>")
            out.append(_table(["rule", "reason"], [[_esc(b.group or b.vm), _esc(b.reason)] for b in self.soft_broken]))
        if not self.exact:
            out.append("<p>warning: the time limit ran out; some VMs were not decided</p>")
        out.append("</div>")
        return "\n".join(out)


@dataclass(frozen=True)
class VmAgility:
    """Where one protected, running or paused VM could restart (capacity
    aside), or every reason why nowhere."""

    vm: str
    host: str
    agile: bool
    targets: List[str]
    reasons: List[str]


@dataclass(frozen=True, repr=False)
class Agility:
    """The answer of :meth:`haplan.Pool.agility`, the fields of
    ``haplan agility --format json``: ``pool``, ``verdict`` (``ok`` when
    every protected VM can restart on some other host, else ``not_ok``) and
    one entry per protected running or paused VM in ``vms``."""

    pool: str
    verdict: Verdict
    vms: List[VmAgility]
    _json: JsonDict = field(compare=False)

    @classmethod
    def _from_native(cls, data: JsonDict) -> Agility:
        return cls(
            pool=data["pool"],
            verdict=Verdict(data["verdict"]),
            vms=[VmAgility(**_known(VmAgility, v)) for v in data["vms"]],
            _json=data,
        )

    def _head(self) -> str:
        """The text's first line."""
        n = sum(1 for v in self.vms if not v.agile)
        if n == 0:
            return f"OK: every protected VM of pool {self.pool} can restart on another host"
        s = "" if n == 1 else "s"
        return f"NOT OK: {n} protected VM{s} of pool {self.pool} cannot restart on any other host"

    @functools.cached_property
    def text(self) -> str:
        """The command line's text output (``str(agility)``), made when
        first asked for: it names about hosts times VMs hosts (1.4 GB on
        2,000 hosts and 100,000 VMs)."""
        lines = [self._head()]
        for v in self.vms:
            if v.agile:
                lines.append(f"  {v.vm}: {', '.join(v.targets)}")
            else:
                lines.append(f"  {v.vm}: not agile: {'; '.join(v.reasons)}")
        lines.append("")
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        """Every protected VM can restart on some other host."""
        return all(v.agile for v in self.vms)

    @property
    def not_agile(self) -> List[VmAgility]:
        """The protected VMs no other host can restart."""
        return [v for v in self.vms if not v.agile]

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan agility`` gives: 0 ok, 1 not."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan agility --format json`` (a fresh copy).

        Copied by its schema, each row's lists at once: it names about
        hosts times VMs hosts, which ``copy.deepcopy`` takes minutes over
        on thousands of hosts and VMs."""
        data = self._json
        with _no_cycle_collection():
            return {
                "pool": data["pool"],
                "verdict": data["verdict"],
                "vms": [
                    {**row, "targets": list(row["targets"]), "reasons": list(row["reasons"])}
                    for row in data["vms"]
                ],
            }

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Agility {self._head()}>"

    def _repr_html_(self) -> str:
        first = self._head()
        verdict, _, rest = first.partition(": ")
        colour = _COLOURS["ok" if self.ok else "not_ok"]
        rows = [
            [_esc(v.vm), _esc(v.host), _esc(v.agile), _html_list(v.targets) if v.agile else _esc("; ".join(v.reasons))]
            for v in self.vms
        ]
        return (
            f"<div><b style='color:{colour}'>{_esc(verdict)}</b>: {_esc(rest)}"
            + _table(["vm", "host", "agile", "targets / reasons"], rows)
            + "</div>"
        )


def _details(summary: str, report: Report) -> str:
    return f"<details><summary>{_esc(summary)}</summary>{report._repr_html_()}</details>"


@dataclass(frozen=True, repr=False)
class WhatIfReport:
    """The answer of :meth:`haplan.Pool.whatif`: the tolerance of the pool
    before and after a list of changes.

    The attributes are the fields of ``haplan whatif --format json``:

    - ``pool``: the changed pool's name; ``changes``: each change in words,
      in order.
    - ``ok``: ``after.ok``.
    - ``before``, ``after``: the :class:`Report` of the pool as it is and
      as the changes leave it (``after.max_tolerable``,
      ``after.witness``, ...).

    Besides: ``changed_pool``, the changed pool itself (a
    :class:`~haplan.Pool` to check, plan, change or save again), and
    ``verdict``/``exit_code``, those of the changed pool. ``to_dict()`` is
    the JSON object, ``str(report)`` the text output.
    """

    pool: str
    changes: List[str]
    ok: bool
    before: Report
    after: Report
    changed_pool: Pool = field(compare=False)
    """The pool as the changes leave it (its ``to_json()`` is the changed
    pool file)."""
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)

    @classmethod
    def _from_native(
        cls, data: JsonDict, text: str, before: Nested, after: Nested, changed_pool: Pool
    ) -> WhatIfReport:
        return cls(
            pool=data["pool"],
            changes=list(data["changes"]),
            ok=data["ok"],
            before=Report._from_native(data["before"], *before),
            after=Report._from_native(data["after"], *after),
            changed_pool=changed_pool,
            text=text,
            _json=data,
        )

    @property
    def verdict(self) -> Verdict:
        """The verdict on the changed pool (``after.verdict``)."""
        return self.after.verdict

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan whatif`` gives: that of ``check`` on the
        changed pool (0 ok, 1 not ok, 3 undecided)."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan whatif --format json`` (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<WhatIfReport {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        """The answer as HTML (a notebook shows it), by the renderer of
        ``haplan report``."""
        return _render("whatif", "html", self._json)


@dataclass(frozen=True)
class LostProtection:
    """A VM protected in the old pool and not in the new one, with its
    ``restart`` there (``"best_effort"`` or ``"unprotected"``)."""

    vm: str
    restart: str


@dataclass(frozen=True, repr=False)
class DiffReport:
    """The answer of :meth:`haplan.Pool.diff`: is the new version of a pool
    worse than the policy allows?

    The attributes are the fields of ``haplan diff --format json``:

    - ``ok``: the new pool meets the policy: its own check is ok against
      ``tolerate`` and, with ``no_regress``, it is not proved to tolerate
      fewer host failures than the old one.
    - ``tolerate``: K, as used for both pools; ``no_regress``: as asked.
    - ``regressed``: the new pool tolerates fewer host failures than the
      old one; ``None`` when a budget left that open (which fails nothing:
      the new pool only has to reach min(old, K)). Reported either way; it
      fails the policy only with ``no_regress``.
    - ``no_worse``: the new pool is the old one with only VMs removed or
      capacity added, which cannot lower a tolerance (``regressed`` is
      then false).
    - ``reasons``: why the new pool fails the policy or is undecided, one
      sentence each; empty when ``ok``.
    - ``hosts_added``, ``hosts_removed``, ``vms_added``, ``vms_removed``
      (matched by name), ``removed_protected``, ``lost_protection``
      (:class:`LostProtection`), ``newly_not_agile`` (:class:`NotAgile`).
    - ``old``, ``new``: the :class:`Report` of each pool.

    ``verdict`` and ``exit_code`` are those of ``haplan diff``: not ok when
    the policy fails, undecided when a time limit left it open.
    ``to_dict()`` is the JSON object, ``str(report)`` the text output.
    """

    ok: bool
    tolerate: int
    no_regress: bool
    regressed: Optional[bool]
    reasons: List[str]
    hosts_added: List[str]
    hosts_removed: List[str]
    vms_added: List[str]
    vms_removed: List[str]
    removed_protected: List[str]
    lost_protection: List[LostProtection]
    newly_not_agile: List[NotAgile]
    old: Report
    new: Report
    verdict: Verdict
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)
    no_worse: bool = False

    @classmethod
    def _from_native(cls, data: JsonDict, text: str, verdict: str, old: Nested, new: Nested) -> DiffReport:
        return cls(
            ok=data["ok"],
            tolerate=data["tolerate"],
            no_regress=data["no_regress"],
            regressed=data["regressed"],
            reasons=list(data["reasons"]),
            hosts_added=list(data["hosts_added"]),
            hosts_removed=list(data["hosts_removed"]),
            vms_added=list(data["vms_added"]),
            vms_removed=list(data["vms_removed"]),
            removed_protected=list(data["removed_protected"]),
            lost_protection=[LostProtection(**_known(LostProtection, x)) for x in data["lost_protection"]],
            newly_not_agile=[NotAgile(vm=n["vm"], reasons=list(n["reasons"])) for n in data["newly_not_agile"]],
            old=Report._from_native(data["old"], *old),
            new=Report._from_native(data["new"], *new),
            verdict=Verdict(verdict),
            text=text,
            _json=data,
            no_worse=data.get("no_worse", False),
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan diff`` gives: 0 the new pool meets the
        policy, 1 it does not, 3 a budget left its own check undecided."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan diff --format json`` (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<DiffReport {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        """The answer as HTML (a notebook shows it), by the renderer of
        ``haplan report``."""
        return _render("diff", "html", self._json)

    def to_markdown(self) -> str:
        """The answer as ``haplan diff --format markdown`` prints it: the
        verdict and a compact table, for a pull-request comment."""
        return _render("diff", "markdown", self._json)


@dataclass(frozen=True)
class VmShape:
    """The VM a headroom question is about: ``demand`` per resource (as
    given, in name order), the ``storage`` and ``networks`` it needs
    (sorted, without repeats)."""

    demand: Dict[str, int]
    storage: List[str]
    networks: List[str]


@dataclass(frozen=True)
class HostCount:
    """``count`` new VMs on ``host`` (a placement)."""

    host: str
    count: int


@dataclass(frozen=True)
class HeadroomLimit:
    """Why no more than ``upper_bound`` new VMs fit: ``kind`` (one of
    ``"not_tolerated"``, ``"no_host"``, ``"capacity"``, ``"aggregate"``,
    ``"search"``, ``"no_failover"``, ``"undecided"``), the argument in
    words, and the failure set it is about (empty when none)."""

    kind: str
    reason: str
    failed_hosts: List[str]


@dataclass(frozen=True)
class HostHeadroom:
    """One host as a place for new VMs: how many its spare holds (``room``,
    HA aside), how many can all start on it alone with the pool still
    tolerating K (``fits_here``, a proved lower bound and
    ``fits_here_upper`` a proved upper bound; equal when exact), and why
    none may start there or its spare holds none (``reason``)."""

    host: str
    room: int
    fits_here: int
    fits_here_upper: int
    reason: Optional[str]


@dataclass(frozen=True)
class HeadroomStats:
    """How the headroom was decided. Free-form in the JSON contract: fields
    may be added; ``checks`` counts tolerance checks of placements."""

    scenarios: int = 0
    elapsed_ms: int = 0
    checks: int = 0
    set_level: int = 0
    cuts: int = 0
    placements: int = 0


@dataclass(frozen=True, repr=False)
class HeadroomReport:
    """The answer of :meth:`haplan.Pool.headroom`: how many more protected
    VMs of one shape can start with the pool still tolerating K host
    failures, a placement that achieves it, and why one more does not fit.

    The attributes are the fields of ``haplan headroom --format json``:

    - ``pool``; ``vm`` (:class:`VmShape`): the shape asked about;
      ``tolerate``: K, as used.
    - ``max_additional``: the count, exact when ``exact``, otherwise a
      proved lower bound (and ``upper_bound`` a proved upper bound), after
      a time limit; ``ok``: the pool as it is meets K and the count is
      exact.
    - ``placement`` (:class:`HostCount`, hosts with new VMs only, in file
      order): ``max_additional`` new VMs the pool tolerates K with, as a
      tolerance check verified.
    - ``limit`` (:class:`HeadroomLimit`): why not one more.
    - ``hosts`` (:class:`HostHeadroom`, every host in file order): how many
      fit on each alone.
    - ``check``: the :class:`Report` of the pool as it is, against K.
    - ``stats`` (:class:`HeadroomStats`).

    ``verdict`` and ``exit_code`` are those of ``haplan headroom``:
    ``NOT_OK`` (1) when the pool as it is fails its check against K,
    ``UNDECIDED`` (3) when a time limit left the count open.
    ``to_dict()`` is the JSON object, ``str(report)`` the text output.
    """

    pool: str
    vm: VmShape
    tolerate: int
    ok: bool
    max_additional: int
    upper_bound: int
    exact: bool
    placement: List[HostCount]
    limit: HeadroomLimit
    hosts: List[HostHeadroom]
    check: Report
    stats: HeadroomStats
    verdict: Verdict
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)

    @classmethod
    def _from_native(cls, data: JsonDict, text: str, verdict: str, check: Nested) -> HeadroomReport:
        vm = data["vm"]
        limit = data["limit"]
        return cls(
            pool=data["pool"],
            vm=VmShape(demand=dict(vm["demand"]), storage=list(vm["storage"]), networks=list(vm["networks"])),
            tolerate=data["tolerate"],
            ok=data["ok"],
            max_additional=data["max_additional"],
            upper_bound=data["upper_bound"],
            exact=data["exact"],
            placement=[HostCount(**_known(HostCount, p)) for p in data["placement"]],
            limit=HeadroomLimit(kind=limit["kind"], reason=limit["reason"], failed_hosts=list(limit["failed_hosts"])),
            hosts=[HostHeadroom(**_known(HostHeadroom, h)) for h in data["hosts"]],
            check=Report._from_native(data["check"], *check),
            stats=HeadroomStats(**_known(HeadroomStats, data.get("stats", {}))),
            verdict=Verdict(verdict),
            text=text,
            _json=data,
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan headroom`` gives: 0 ok, 1 the pool as it
        is fails its check, 3 a time limit left the count open."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan headroom --format json`` (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<HeadroomReport {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        """The answer as HTML (a notebook shows it), by the renderer of
        ``haplan report``."""
        return _render("headroom", "html", self._json)


# -- drain ------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One live migration of a drain: ``vm`` from ``from_`` to ``to``
    (``from`` in the JSON; a Python keyword, hence the underscore)."""

    vm: str
    from_: str
    to: str

    @property
    def from_host(self) -> str:
        """Deprecated alias of :attr:`from_`, kept for one release."""
        _deprecated("Move.from_host", "Move.from_")
        return self.from_


@dataclass(frozen=True)
class HostReason:
    """Why ``host`` cannot take a VM: the agility rules it breaks, or the
    resource it is short of."""

    host: str
    reason: str


@dataclass(frozen=True)
class StuckVm:
    """A VM of the drained host that no other host can take, with every
    other host's reason."""

    vm: str
    hosts: List[HostReason]


@dataclass(frozen=True)
class DrainBlock:
    """Why a host cannot be drained: ``kind`` is ``"no_target"`` (VMs that
    fit on no other host they may run on: ``no_target``),
    ``"not_tolerated"`` (with the host in maintenance the pool fails K even
    without its VMs: the witness ``failed_hosts`` and ``unplaced``, or the
    VMs ``not_agile``, or, with all of them empty, fewer than K hosts up) or
    ``"exhausted"`` (every assignment of its VMs was tried)."""

    kind: str
    no_target: List[StuckVm]
    failed_hosts: List[str]
    unplaced: List[str]
    not_agile: List[NotAgile]


@dataclass(frozen=True)
class DrainStats:
    """How the drain was decided. Free-form in the JSON contract: fields may
    be added; ``checks`` counts tolerance checks, ``assignments`` the
    complete assignments the search checked, ``pruned`` the partial ones it
    dropped."""

    checks: int = 0
    assignments: int = 0
    pruned: int = 0
    elapsed_ms: int = 0


@dataclass(frozen=True, repr=False)
class DrainReport:
    """The answer of :meth:`haplan.Pool.drain`: whether a host can go into
    maintenance, its running and paused VMs live-migrated to other hosts,
    with the pool still tolerating K host failures.

    The attributes are the fields of ``haplan drain --format json``:

    - ``pool``, ``host``; ``tolerate``: K, as used; ``ok``: drainable.
    - ``outcome``: ``"drainable"``, ``"blocked"`` or ``"undecided"`` (the
      JSON's ``verdict``); ``reason``: the answer in one sentence.
    - ``vms``: the host's running and paused VMs, largest first.
    - ``method``: how the plan was found (``"spread"``, ``"tightest_fit"``,
      ``"search"``, ``"nothing_to_move"``), or ``None``.
    - ``moves`` (:class:`Move`): the migrations in order, largest VM first.
    - ``end_state``: the :class:`Report` of the pool after the drain,
      against K, or ``None`` unless drainable.
    - ``blocked`` (:class:`DrainBlock`): the proof, or ``None``.
    - ``stats`` (:class:`DrainStats`).

    ``verdict`` (:class:`DrainVerdict`) is the JSON's ``verdict``
    (``report.verdict == report.to_dict()["verdict"]``) and ``exit_code``
    that of ``haplan drain``: ``DRAINABLE`` (0), ``BLOCKED`` (1),
    ``UNDECIDED`` (3, a time limit or the search's limit ran out first).
    ``to_dict()`` is the JSON object, ``str(report)`` the text output.
    """

    pool: str
    host: str
    tolerate: int
    ok: bool
    outcome: str
    reason: str
    vms: List[str]
    method: Optional[str]
    moves: List[Move]
    end_state: Optional[Report]
    blocked: Optional[DrainBlock]
    stats: DrainStats
    verdict: DrainVerdict
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)

    @classmethod
    def _from_native(cls, data: JsonDict, text: str, verdict: str, end: Optional[Nested]) -> DrainReport:
        b = data["blocked"]
        blocked = None
        if b is not None:
            blocked = DrainBlock(
                kind=b["kind"],
                no_target=[
                    StuckVm(vm=s["vm"], hosts=[HostReason(host=h["host"], reason=h["reason"]) for h in s["hosts"]])
                    for s in b["no_target"]
                ],
                failed_hosts=list(b["failed_hosts"]),
                unplaced=list(b["unplaced"]),
                not_agile=[NotAgile(vm=n["vm"], reasons=list(n["reasons"])) for n in b["not_agile"]],
            )
        end_state = None
        if data["end_state"] is not None and end is not None:
            end_state = Report._from_native(data["end_state"], *end)
        return cls(
            pool=data["pool"],
            host=data["host"],
            tolerate=data["tolerate"],
            ok=data["ok"],
            outcome=data["verdict"],
            reason=data["reason"],
            vms=list(data["vms"]),
            method=data["method"],
            moves=[Move(vm=m["vm"], from_=m["from"], to=m["to"]) for m in data["moves"]],
            end_state=end_state,
            blocked=blocked,
            stats=DrainStats(**_known(DrainStats, data.get("stats", {}))),
            verdict=DrainVerdict(data["verdict"]),
            text=text,
            _json=data,
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan drain`` gives: 0 drainable, 1 blocked, 3
        undecided."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan drain --format json`` (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<DrainReport {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        first = self.text.splitlines()[0]
        verdict, _, rest = first.partition(": ")
        colour = _COLOURS[{"drainable": "ok", "blocked": "not_ok"}.get(self.verdict.value, "undecided")]
        out = [f"<div><b style='color:{colour}'>{_esc(verdict)}</b>: {_esc(rest)}"]
        if self.moves:
            out.append(
                _table(
                    ["vm", "from", "to"],
                    [[_esc(m.vm), _esc(m.from_), _esc(m.to)] for m in self.moves],
                )
            )
        out.append(f"<p><b>Reason</b>: {_esc(self.reason)}</p>")
        if self.end_state is not None:
            out.append(_details("After the drain", self.end_state))
        out.append("</div>")
        return "\n".join(out)


# -- tiers ------------------------------------------------------------------


@dataclass(frozen=True)
class TierTolerance:
    """One restart-priority tier: the ``vms`` (a count) protected running
    or paused VMs of ``priority`` or higher, and the largest number of host
    (domain) failures after which every one of them still restarts,
    ``max_tolerable`` (exact when ``exact``, else a proved lower bound and
    ``upper_bound`` a proved upper bound). ``ok``: the tier tolerates K.
    ``witness``: a failure set of size ``max_tolerable + 1`` the tier does
    not survive (``None`` when every host can fail)."""

    priority: PriorityValue
    vms: int
    max_tolerable: int
    upper_bound: int
    exact: bool
    ok: bool
    witness: Optional[Witness]


@dataclass(frozen=True)
class DegradationExample:
    """A failure set of a degradation row, for its highest lost tier:
    ``failed_hosts`` (and ``failed_domains`` when k counts failure domains,
    else ``None``), and the protected VMs the priority-ordered restart plan
    for it leaves out (``stranded``)."""

    failed_hosts: List[str]
    stranded: List[str]
    failed_domains: Optional[List[str]] = None


@dataclass(frozen=True)
class Degradation:
    """``failures`` hosts (domains) failing at once, beyond the pool's
    tolerance: the tiers still ``safe_tiers`` (every such set restarts all
    their VMs), ``lost_tiers`` (some set strands one of their VMs),
    ``undecided_tiers`` (left open by a time limit), the VMs ``at_risk``
    (those of the lost tiers that no safe tier holds), and an ``example``
    (:class:`DegradationExample`, ``None`` when none was found in time)."""

    failures: int
    safe_tiers: List[PriorityValue]
    lost_tiers: List[PriorityValue]
    undecided_tiers: List[PriorityValue]
    at_risk: List[str]
    example: Optional[DegradationExample]


@dataclass(frozen=True, repr=False)
class TiersReport:
    """The answer of :meth:`haplan.Pool.tiers`: the tolerance of each
    restart-priority tier (tier *p* is every protected VM of priority *p*
    or higher, ``critical`` highest) and what degrades beyond the pool's
    tolerance.

    The attributes are the fields of ``haplan tiers --format json``:

    - ``pool``; ``configured``: K; ``unit``: ``"host"``, or ``"domain"``
      when k counts failure domains (``ha.failure_domain_label``).
    - ``max_tolerable``, ``ok``: the lowest tier's, i.e. the pool's
      :meth:`~haplan.Pool.check` (``max_tolerable`` is ``None`` when no
      protected VM runs); ``exact``: every tier's tolerance exact and every
      degradation row decided.
    - ``tiers`` (:class:`TierTolerance`), highest priority first, only
      priorities some protected running VM has.
    - ``degradation`` (:class:`Degradation`): one row for each k from the
      pool's tolerance + 1 to the highest tier's + 1.
    - ``not_agile`` (:class:`NotAgile`), ``warnings``: the pool's check's.

    ``verdict`` and ``exit_code`` are those of ``haplan tiers``: as the
    pool's check (``OK`` 0, ``NOT_OK`` 1), ``UNDECIDED`` (3) when the pool
    is ok but a time limit left a tier or a row undecided. ``to_dict()`` is
    the JSON object, ``str(report)`` the text output.
    """

    pool: str
    configured: int
    unit: str
    max_tolerable: Optional[int]
    ok: bool
    exact: bool
    tiers: List[TierTolerance]
    degradation: List[Degradation]
    not_agile: List[NotAgile]
    warnings: List[str]
    verdict: Verdict
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)

    @classmethod
    def _from_native(cls, data: JsonDict, text: str, verdict: str) -> TiersReport:
        degradation = []
        for d in data["degradation"]:
            e = d["example"]
            example = None
            if e is not None:
                domains = e.get("failed_domains")
                example = DegradationExample(
                    failed_hosts=list(e["failed_hosts"]),
                    stranded=list(e["stranded"]),
                    failed_domains=list(domains) if domains is not None else None,
                )
            degradation.append(
                Degradation(
                    failures=d["failures"],
                    safe_tiers=list(d["safe_tiers"]),
                    lost_tiers=list(d["lost_tiers"]),
                    undecided_tiers=list(d["undecided_tiers"]),
                    at_risk=list(d["at_risk"]),
                    example=example,
                )
            )
        return cls(
            pool=data["pool"],
            configured=data["configured"],
            unit=data["unit"],
            max_tolerable=data["max_tolerable"],
            ok=data["ok"],
            exact=data["exact"],
            tiers=[
                TierTolerance(
                    priority=t["priority"],
                    vms=t["vms"],
                    max_tolerable=t["max_tolerable"],
                    upper_bound=t["upper_bound"],
                    exact=t["exact"],
                    ok=t["ok"],
                    witness=_witness(t["witness"]),
                )
                for t in data["tiers"]
            ],
            degradation=degradation,
            not_agile=[NotAgile(vm=n["vm"], reasons=list(n["reasons"])) for n in data["not_agile"]],
            warnings=list(data["warnings"]),
            verdict=Verdict(verdict),
            text=text,
            _json=data,
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan tiers`` gives: 0 ok, 1 not ok, 3 the pool
        is ok but a time limit left a tier or a row undecided."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan tiers --format json`` (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<TiersReport {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        """The answer as HTML (a notebook shows it), by the renderer of
        ``haplan report``."""
        return _render("tiers", "html", self._json)


# -- timing -----------------------------------------------------------------


@dataclass(frozen=True)
class GroupTiming:
    """One order group of a restart schedule: how many VMs, when its gate
    opened (``start_s``), when its last VM runs (``end_s``), and when the
    next group may start (``release_s``: its latest run plus start delay).
    Seconds after the failed hosts are confirmed off."""

    order: int
    vms: int
    start_s: int
    end_s: int
    release_s: int


@dataclass(frozen=True)
class VmTiming:
    """One restarted VM: the host it ran on (``from_``: ``"from"`` in the
    JSON, a Python keyword, hence the underscore), its restart target (``host``, only for a given failure
    set), its order and priority, its boot time, when it starts and when
    it runs (seconds after the failed hosts are confirmed off)."""

    vm: str
    from_: str
    host: Optional[str]
    order: int
    priority: PriorityValue
    boot_s: int
    start_s: int
    running_s: int

    @property
    def from_host(self) -> str:
        """Deprecated alias of :attr:`from_`, kept for one release."""
        _deprecated("VmTiming.from_host", "VmTiming.from_")
        return self.from_


@dataclass(frozen=True)
class NotRestarted:
    """A protected VM of the failed (or already down) hosts that does not
    restart, with why; it is left out of the estimate."""

    vm: str
    reason: str


@dataclass(frozen=True)
class TimingStats:
    """Free-form in the JSON contract: ``scenarios`` counts the failure
    sets scheduled."""

    scenarios: int = 0
    elapsed_ms: int = 0


@dataclass(frozen=True, repr=False)
class TimingReport:
    """The answer of :meth:`haplan.Pool.timing`: how long after the
    worst failure of at most K hosts (or after the given one) every
    protected VM runs again.

    The attributes are the fields of ``haplan timing --format json``:

    - ``pool``; ``tolerate``: K as used (``None`` for a given set);
      ``tolerated``: false when the pool does not tolerate K, then
      ``witness`` (:class:`Witness`) says why and there is no estimate.
    - ``search``: ``"every_set"``, ``"greedy"`` (too many sets: a lower
      bound, ``exact`` false), ``"given"`` or ``"none"``; ``sets``: failure
      sets scheduled; ``failed_hosts``: the worst set (found) or the given one.
    - ``boot_time_s`` (the default boot time), ``concurrency`` (``None``:
      no limit).
    - ``detection_s``, ``fence_s``, ``makespan_s`` and their sum
      ``total_s``; ``last_vm``: the VM that runs last.
    - ``groups`` (:class:`GroupTiming`) and ``vms`` (:class:`VmTiming`), in
      start order; ``not_restarted`` (:class:`NotRestarted`);
      ``not_agile``: protected VMs of the pool that are not agile.
    - ``warnings``; ``stats`` (:class:`TimingStats`).

    ``verdict`` and ``exit_code`` are those of ``haplan timing``: ``OK``
    (0) when every protected VM concerned runs again, ``NOT_OK`` (1) when
    the pool does not tolerate K or a protected VM does not restart.
    ``to_dict()`` is the JSON object, ``str(report)`` the text output.
    """

    pool: str
    ok: bool
    tolerate: Optional[int]
    tolerated: bool
    witness: Optional[Witness]
    search: str
    exact: bool
    sets: int
    failed_hosts: List[str]
    boot_time_s: int
    concurrency: Optional[int]
    detection_s: int
    fence_s: int
    makespan_s: int
    total_s: int
    last_vm: Optional[str]
    groups: List[GroupTiming]
    vms: List[VmTiming]
    not_restarted: List[NotRestarted]
    not_agile: int
    warnings: List[str]
    stats: TimingStats
    verdict: Verdict
    text: str = field(compare=False)
    """The command line's text output (``str(report)``)."""
    _json: JsonDict = field(compare=False)

    @classmethod
    def _from_native(cls, data: JsonDict, text: str, verdict: str) -> TimingReport:
        return cls(
            pool=data["pool"],
            ok=data["ok"],
            tolerate=data["tolerate"],
            tolerated=data["tolerated"],
            witness=_witness(data["witness"]),
            search=data["search"],
            exact=data["exact"],
            sets=data["sets"],
            failed_hosts=list(data["failed_hosts"]),
            boot_time_s=data["boot_time_s"],
            concurrency=data["concurrency"],
            detection_s=data["detection_s"],
            fence_s=data["fence_s"],
            makespan_s=data["makespan_s"],
            total_s=data["total_s"],
            last_vm=data["last_vm"],
            groups=[GroupTiming(**_known(GroupTiming, g)) for g in data["groups"]],
            vms=[
                VmTiming(
                    vm=v["vm"],
                    from_=v["from"],
                    host=v.get("host"),
                    order=v["order"],
                    priority=v["priority"],
                    boot_s=v["boot_s"],
                    start_s=v["start_s"],
                    running_s=v["running_s"],
                )
                for v in data["vms"]
            ],
            not_restarted=[NotRestarted(**_known(NotRestarted, n)) for n in data["not_restarted"]],
            not_agile=data["not_agile"],
            warnings=list(data["warnings"]),
            stats=TimingStats(**_known(TimingStats, data.get("stats", {}))),
            verdict=Verdict(verdict),
            text=text,
            _json=data,
        )

    @property
    def exit_code(self) -> int:
        """The exit code ``haplan timing`` gives: 0 ok, 1 not ok."""
        return self.verdict.exit_code

    def to_dict(self) -> JsonDict:
        """The JSON object of ``haplan timing --format json`` (a fresh copy)."""
        return copy.deepcopy(self._json)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<TimingReport {self.text.splitlines()[0]}>"

    def _repr_html_(self) -> str:
        """The answer as HTML (a notebook shows it), by the renderer of
        ``haplan report``."""
        return _render("timing", "html", self._json)
