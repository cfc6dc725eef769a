"""Capacity planning for a pool in a few lines.

    python3 python/examples/capacity.py [POOL.json] [HOST ...]

How many simultaneous host failures does the pool survive, which failure
breaks it, where does everything restart when the given hosts fail
(default: the bundled demo pool and its first host), and which host can go
into maintenance without breaking the configured tolerance.
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

# What-if: each host in maintenance in turn (the pool itself is not changed).
print("one host in maintenance:")
for host in pool.hosts:
    w = pool.whatif([{"op": "maintenance", "name": host}])
    print(f"  {host:<12} tolerates {w.after.max_tolerable}{'' if w.ok else '  NOT OK'}")
