"""Capacity planning for a pool in a few lines.

    python3 python/examples/capacity.py [POOL.json] [HOST ...]

How many simultaneous host failures does the pool survive, which failure
breaks it, and where does everything restart when the given hosts fail
(default: the bundled demo pool and its first host).
"""

import sys
from pathlib import Path

import haplan

path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "fixtures" / "basic" / "demo.json"
pool = haplan.Pool.load(path)

report = pool.check(explain=True)  # exact; an overcommit is a report, not an error
print(f"{pool.name}: max_tolerable={report.max_tolerable} (configured: {report.configured}), ok={report.ok}")
if report.witness:
    print(f"  breaks when {', '.join(report.witness.failed_hosts)} fail: {report.witness.reason}")
    print(f"  stranded: {', '.join(report.witness.unplaced)}")

failed = sys.argv[2:] or pool.hosts[:1]
plan = pool.plan(failed=failed)
print(f"restart plan when {', '.join(failed)} fail{'s' if len(failed) == 1 else ''}:")
for p in plan.placements:
    print(f"  {p.vm:<12} -> {p.host}  (order {p.order}, {p.priority})")
for u in plan.unplaced:
    print(f"  {u.vm:<12} cannot restart: {u.reason}")
