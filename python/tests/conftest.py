"""Shared helpers: the fixture cases of ``fixtures/`` (the same files the Rust
fixture test runs, see ``fixtures/README.md``) and a deterministic pool
generator."""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
# Every family of fixtures/ (a directory); only bad/ holds invalid pools.
# fixtures/import/ holds platform exports (tests/test_import.py), not pools.
FAMILIES = {d.name: d.name != "bad" for d in sorted(FIXTURES.iterdir()) if d.is_dir() and d.name != "import"}
IMPORT_FIXTURES = FIXTURES / "import"
# The subcommands the Python API answers (runs of others are skipped).
SUBCOMMANDS = ("check", "plan", "agility", "whatif", "diff", "headroom", "drain", "tiers", "timing")


@dataclass(frozen=True)
class Run:
    family: str
    name: str
    id: str
    command: List[str]
    stdin: bool
    with_files: List[str]

    @property
    def pool_path(self) -> Path:
        return FIXTURES / self.family / f"{self.name}.json"

    @property
    def valid(self) -> bool:
        return FAMILIES[self.family]

    @property
    def with_paths(self) -> List[Path]:
        """The run's own files (``"with"``: the change file of ``whatif``,
        the NEW pool of ``diff``), ``a/b/../c`` as ``a/c`` as the command
        line's messages name them."""
        return [Path(os.path.normpath(FIXTURES / self.family / f)) for f in self.with_files]

    def flag(self, name: str) -> Optional[str]:
        """The value after ``--name``, or None."""
        for i, arg in enumerate(self.command):
            if arg == name:
                return self.command[i + 1]
        return None

    def golden(self) -> "Golden":
        text = (FIXTURES / self.family / f"{self.name}.{self.id}.expected").read_text(encoding="utf-8")
        head, rest = text.split("\n", 1)
        assert head.startswith("exit: ")
        stdout, stderr = rest.split("--- stderr\n", 1)
        assert stdout.startswith("--- stdout\n")
        return Golden(int(head[len("exit: "):]), stdout[len("--- stdout\n"):], stderr)

    def __str__(self) -> str:
        return f"{self.family}/{self.name}.{self.id}"


@dataclass(frozen=True)
class Golden:
    exit: int
    stdout: str
    stderr: str


def fixture_runs() -> List[Run]:
    runs = []
    for family in FAMILIES:
        for case in sorted((FIXTURES / family).glob("*.case.json")):
            name = case.name[: -len(".case.json")]
            data: Dict[str, Any] = json.loads(case.read_text(encoding="utf-8"))
            if "command" in data:
                specs = [{"id": data["command"][0], "command": data["command"]}]
            else:
                specs = data["runs"]
            for spec in specs:
                runs.append(
                    Run(
                        family,
                        name,
                        spec["id"],
                        list(spec["command"]),
                        bool(spec.get("stdin", False)),
                        list(spec.get("with", [])),
                    )
                )
    assert runs, f"no fixture cases under {FIXTURES}"
    return runs


def _case_pools(family: str) -> List[Path]:
    """The pool of every case of a family (``<name>.json`` beside ``<name>.case.json``)."""
    return sorted(c.with_name(c.name[: -len(".case.json")] + ".json") for c in (FIXTURES / family).glob("*.case.json"))


def valid_pool_paths() -> List[Path]:
    return [p for f, ok in FAMILIES.items() if ok for p in _case_pools(f)]


def bad_pool_paths() -> List[Path]:
    return _case_pools("bad")


def html_text(page: str) -> str:
    """The text a browser shows for an HTML fragment (tags dropped, entities
    read), without its style sheet."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def normalise_text_stats(text: str) -> str:
    """The ``Decided ... ms.`` line (and headroom's ``Ran N tolerance
    checks in T ms.``) as the golden files have it."""
    out = []
    for line in text.split("\n"):
        w = line.split(" ")
        if len(w) == 16 and w[0] == "Decided" and w[15] == "ms." and w[1].isdigit() and w[8].isdigit():
            line = "Decided N failure sets one by one and M groups by set-level bounds in T ms."
        elif len(w) == 7 and w[0] == "Ran" and w[2] == "tolerance" and w[6] == "ms." and w[1].isdigit() and w[5].isdigit():
            line = "Ran N tolerance checks in T ms."
        out.append(line)
    return "\n".join(out)


# -- a deterministic generator: benches/lib.rs `tshirt_pool`, ported ---------

_M = (1 << 64) - 1


class _Rng:
    """SplitMix64, as in benches/lib.rs."""

    def __init__(self, seed: int) -> None:
        self.s = (seed ^ 0x9E3779B97F4A7C15) & _M

    def next_u64(self) -> int:
        self.s = (self.s + 0x9E3779B97F4A7C15) & _M
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
        return z ^ (z >> 31)

    def range(self, lo: int, hi: int) -> int:
        return lo + self.next_u64() % (hi - lo + 1)


def tshirt_pool(hosts: int, vms: int, seed: int) -> Dict[str, Any]:
    """The same pool as ``cargo run --release -p haplan-benches --example gen
    -- tshirt HOSTS VMS SEED``: memory and vCPUs (4:1), three host models,
    t-shirt VM sizes."""
    gib = 1024
    sizes = [(2, 1), (4, 2), (8, 4), (16, 4), (32, 8)]
    models = [(256, 32), (384, 48), (512, 64)]
    rng = _Rng(seed)
    free = []
    hs = []
    for h in range(hosts):
        mem, cores = models[rng.range(0, len(models) - 1)]
        free.append([mem * gib - 8 * gib, cores * 4])
        hs.append(
            {
                "name": f"h{h:03}",
                "capacity": {"memory_mib": mem * gib, "vcpus": cores},
                "reserved": {"memory_mib": 8 * gib},
            }
        )
    out = []
    for v in range(vms):
        m, c = sizes[rng.range(0, len(sizes) - 1)]
        m *= gib
        start = rng.range(0, hosts - 1)
        fits = [x for x in ((start + i) % hosts for i in range(hosts)) if free[x][0] >= m and free[x][1] >= c]
        if not fits:
            continue
        h = fits[0]
        free[h][0] -= m
        free[h][1] -= c
        restart = "best_effort" if rng.range(0, 9) == 0 else "protected"
        out.append({"name": f"vm{v:04}", "host": f"h{h:03}", "demand": {"memory_mib": m, "vcpus": c}, "restart": restart})
    return {
        "format": "haplan/v1",
        "name": f"tshirt-{hosts}x{vms}",
        "ha": {"host_failures_to_tolerate": 1, "overcommit": {"vcpus": 4.0}},
        "hosts": hs,
        "vms": out,
    }


@pytest.fixture(scope="session")
def big_pool() -> Any:
    """64 hosts, 1000 VMs. The default check decides it in milliseconds;
    ``strategy="enumerate"`` (every failure set one by one) takes far
    longer than any test waits, so with a ``time_limit_s`` it is a solve of
    known length."""
    import haplan

    return haplan.Pool.from_dict(tshirt_pool(64, 1000, 5))
