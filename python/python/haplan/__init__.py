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

Every answer comes from the same Rust library as the ``haplan`` command
line, with the same fields as its JSON output (``docs/cli.md``).
"""

from ._errors import HaplanError, InvalidPoolError, Problem, QueryError
from ._native import __version__
from ._pool import Pool
from ._reports import (
    Agility,
    NotAgile,
    Placement,
    Plan,
    Report,
    Short,
    Stats,
    Unplaced,
    Verdict,
    VmAgility,
    Witness,
)

__all__ = [
    "Agility",
    "HaplanError",
    "InvalidPoolError",
    "NotAgile",
    "Placement",
    "Plan",
    "Pool",
    "Problem",
    "QueryError",
    "Report",
    "Short",
    "Stats",
    "Unplaced",
    "Verdict",
    "VmAgility",
    "Witness",
    "__version__",
]
