"""haplan: exact host-failure tolerance and restart plans for virtualization
pools.

If any k hosts of this pool die right now, can every protected VM be
restarted somewhere, and where? ::

    import haplan

    pool = haplan.Pool.load("pool.json")
    report = pool.check(tolerate=2)
    print(report.max_tolerable, report.ok)
    if report.witness:
        print("fails if", report.witness.failed_hosts, "die:", report.witness.reason)
    plan = pool.plan(failed=["xs01"])
    for p in plan.placements:
        print(p.vm, "->", p.host)
    w = pool.whatif([{"op": "maintenance", "name": "xs01"}])
    print("with xs01 in maintenance:", w.after.max_tolerable, "before:", w.before.max_tolerable)
    d = pool.diff(haplan.Pool.load("pool-next.json"), no_regress=True)
    if not d.ok:
        print("pool-next.json fails the policy:", d.reasons)
    h = pool.headroom({"memory_mib": 32768, "vcpus": 8})
    print(h.max_additional, "more such VMs fit, e.g.", [(p.host, p.count) for p in h.placement])
    pool = haplan.import_pool("proxmox", ["resources.json", "resources.cfg"])   # docs/import.md

Every answer comes from the same Rust library as the ``haplan`` command
line, with the same fields as its JSON output (``docs/cli.md``).
"""

from typing import Any

from ._errors import (
    HaplanError,
    InvalidChangesError,
    InvalidExportError,
    InvalidPoolError,
    InvalidShapeError,
    PoolImportWarning,
    Problem,
    QueryError,
    TimeLimitError,
)
from ._import import PLATFORMS, import_pool
from ._native import __version__
from ._pool import DEFAULT_MAX_TIME_S, DEFAULT_TIME_LIMIT_S, Pool, _renamed_constant
from ._reports import (
    Agility,
    BrokenRule,
    Degradation,
    DegradationExample,
    DiffReport,
    DrainBlock,
    DrainReport,
    DrainStats,
    DrainVerdict,
    FailureDomain,
    FailureDomains,
    GroupTiming,
    HeadroomLimit,
    HeadroomReport,
    HeadroomStats,
    HostCount,
    HostHeadroom,
    HostReason,
    LostProtection,
    Move,
    NotAgile,
    NotRestarted,
    Placement,
    Plan,
    PriorityValue,
    Report,
    Short,
    SoftRules,
    SoftWitness,
    Stats,
    StuckVm,
    TierTolerance,
    TiersReport,
    TimingReport,
    TimingStats,
    Unplaced,
    Verdict,
    VmAgility,
    VmShape,
    VmTiming,
    WhatIfReport,
    Witness,
)

__all__ = [
    "DEFAULT_MAX_TIME_S",
    "DEFAULT_TIME_LIMIT_S",
    "Agility",
    "BrokenRule",
    "Degradation",
    "DegradationExample",
    "DiffReport",
    "DrainBlock",
    "DrainReport",
    "DrainStats",
    "DrainVerdict",
    "FailureDomain",
    "FailureDomains",
    "GroupTiming",
    "HaplanError",
    "HeadroomLimit",
    "HeadroomReport",
    "HeadroomStats",
    "HostCount",
    "HostHeadroom",
    "HostReason",
    "InvalidChangesError",
    "InvalidExportError",
    "InvalidPoolError",
    "InvalidShapeError",
    "LostProtection",
    "Move",
    "NotAgile",
    "NotRestarted",
    "PLATFORMS",
    "Placement",
    "Plan",
    "Pool",
    "PoolImportWarning",
    "PriorityValue",
    "Problem",
    "QueryError",
    "Report",
    "Short",
    "SoftRules",
    "SoftWitness",
    "Stats",
    "StuckVm",
    "TierTolerance",
    "TiersReport",
    "TimingReport",
    "TimeLimitError",
    "TimingStats",
    "Unplaced",
    "Verdict",
    "VmAgility",
    "VmShape",
    "VmTiming",
    "WhatIfReport",
    "Witness",
    "__version__",
    "import_pool",
]


def __getattr__(name: str) -> Any:
    """The names of the previous release (``DEFAULT_TIME_LIMIT``,
    ``DEFAULT_MAX_TIME``), each with a :class:`DeprecationWarning` naming
    the new one."""
    return _renamed_constant(__name__, name)
