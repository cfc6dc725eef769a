"""``haplan report`` and ``haplan diff --format html`` in a real browser.

Headless Chromium (Debian's, installed by scripts/deps.sh) driven by
Playwright opens the page of every valid fixture pool and checks that it
renders without a console error, that every number in the DOM (each element
with a ``data-json`` JSON Pointer) equals the JSON answer's, that the hosts
of the worst failure set are marked, visibly, and no others; a screenshot of
each page is kept under ``target/report-screenshots/``.

Run by scripts/test.sh after the release build (``HAPLAN_BIN`` may name
another binary).
"""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("HAPLAN_BIN", ROOT / "target" / "release" / "haplan"))
SHOTS = ROOT / "target" / "report-screenshots"
CHROMIUM = os.environ.get("HAPLAN_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach its
# services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long Chromium may take to start (a loaded 2-core machine: seconds).
LAUNCH_TIMEOUT_MS = 60_000
# Numbers that differ from run to run (how long a solve took).
VOLATILE = ("/stats/", "elapsed_ms")


def fixture_pools() -> List[Path]:
    out = []
    for family in sorted((ROOT / "fixtures").iterdir()):
        if not family.is_dir() or family.name == "bad":
            continue
        for f in sorted(family.glob("*.json")):
            if f.name.endswith((".case.json", ".changes.json")):
                continue
            out.append(f)
    return out


def resources(pool: Dict[str, Any]) -> List[str]:
    names = set()
    for h in pool.get("hosts", []):
        names.update(h.get("capacity", {}))
    return sorted(names)


def haplan(*args: str) -> Tuple[int, str]:
    done = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode, done.stdout


def visible(s: str) -> str:
    """As the renderer shows a name: control characters and bidirectional
    overrides as U+FFFD."""
    return "".join(
        "\ufffd"
        if unicodedata.category(c) == "Cc" or "\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069"
        else c
        for c in s
    )


def pointer(doc: Any, ptr: str) -> Any:
    for token in ptr.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not BIN.is_file():
        pytest.fail(f"{BIN} is not built (cargo build --release -p haplan-cli)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not there (Debian's chromium: bash scripts/deps.sh)", pytrace=False)
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS)
        except Exception as e:  # Playwright's Error or TimeoutError: the browser did not start
            pytest.fail(f"Chromium ({CHROMIUM}) did not start: {e}", pytrace=False)
        yield b
        b.close()


class Opened:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: List[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: self.problems.append(f"a dialog opened: {d.message}"))
        page.on("request", lambda r: self.problems.append(f"a request: {r.url}") if not r.url.startswith("file:") else None)


def open_page(browser: Browser, html: Path) -> Opened:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    opened = Opened(page)
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return opened


def check_numbers(page: Page, answer: Dict[str, Any]) -> int:
    """Every data-json element shows the answer's value there; returns how many."""
    pairs = page.eval_on_selector_all(
        "[data-json]", "els => els.map(e => [e.getAttribute('data-json'), e.textContent])"
    )
    for ptr, text in pairs:
        if any(v in ptr for v in VOLATILE):
            continue
        want = pointer(answer, ptr)
        if isinstance(want, bool) or want is None:
            assert text == json.dumps(want), ptr
        elif isinstance(want, (int, float)):
            assert float(text) == float(want), f"{ptr}: page {text!r}, JSON {want!r}"
        else:
            assert text == visible(str(want)), ptr
    counts = page.eval_on_selector_all(
        "[data-json-count]", "els => els.map(e => [e.getAttribute('data-json-count'), e.textContent])"
    )
    for ptr, text in counts:
        assert int(text) == len(pointer(answer, ptr)), ptr
    return len(pairs) + len(counts)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("pool_path", fixture_pools(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_report_page(browser: Browser, pool_path: Path, tmp_path: Path) -> None:
    pool = json.loads(pool_path.read_text(encoding="utf-8"))
    args = [str(pool_path), "--time-limit", "60"]
    res = resources(pool)
    if "memory_mib" in res:
        vm = {"memory_mib": 8192, **({"vcpus": 2} if "vcpus" in res else {})}
        args += ["--vm", json.dumps(vm)]
    _, text = haplan("report", *args, "--format", "json")
    answer = json.loads(text)
    html = tmp_path / "report.html"
    haplan("report", *args, "-o", str(html))
    opened = open_page(browser, html)
    page = opened.page
    try:
        seen = check_numbers(page, answer)
        assert seen > 10
        # Every host has its row, with its name.
        names = page.eval_on_selector_all("table.hosts tbody tr > th", "els => els.map(e => e.textContent)")
        assert sorted(names) == sorted(visible(h["name"]) for h in answer["pool"]["hosts"])
        # The worst failure set is marked on exactly its hosts, visibly.
        witness = answer["check"]["witness"]
        worst = sorted(visible(h) for h in (witness["failed_hosts"] if witness else []))
        marked = sorted(page.eval_on_selector_all("tr.worst > th", "els => els.map(e => e.textContent)"))
        assert marked == worst
        if worst:
            colours = page.eval_on_selector_all(
                "table.hosts tbody tr > td:nth-child(3)",
                "els => els.map(e => [e.parentElement.classList.contains('worst'), getComputedStyle(e).backgroundColor])",
            )
            worst_bg = {bg for w, bg in colours if w}
            other_bg = {bg for w, bg in colours if not w}
            assert len(worst_bg) == 1 and not worst_bg & other_bg, colours
        # The verdict is the first thing on the page, in words.
        verdict = page.inner_text("#verdict .word")
        assert verdict in ("OK", "OVERCOMMITTED", "NOT OK", "UNDECIDED")
        assert (verdict == "OK") == answer["ok"]
        # Every picture has a text alternative.
        for el in page.query_selector_all("svg"):
            assert el.get_attribute("role") == "img" and el.get_attribute("aria-labelledby")
        for el in page.query_selector_all(".bar"):
            assert el.get_attribute("aria-hidden") == "true" or el.get_attribute("aria-label")
        shot(page, f"{pool_path.parent.name}-{pool_path.stem}")
        assert opened.problems == []
    finally:
        page.close()


@pytest.mark.parametrize("new", ["base", "drop-host", "lost-protection"])
def test_diff_page(browser: Browser, new: str, tmp_path: Path) -> None:
    d = ROOT / "fixtures" / "diff"
    args = [str(d / "base.json"), str(d / f"{new}.json"), "--no-regress", "--explain", "--vm", '{"memory_mib": 16384}']
    _, text = haplan("diff", *args, "--format", "json")
    answer = json.loads(text)
    _, html = haplan("diff", *args, "--format", "html")
    path = tmp_path / "diff.html"
    path.write_text(html, encoding="utf-8")
    opened = open_page(browser, path)
    try:
        assert check_numbers(opened.page, answer) > 5
        assert opened.page.inner_text("#verdict .word") == ("OK" if answer["ok"] else "NOT OK")
        shot(opened.page, f"diff-{new}")
        assert opened.problems == []
    finally:
        opened.page.close()


def test_hostile_names_stay_text(browser: Browser, tmp_path: Path) -> None:
    # Control characters and bidirectional overrides are refused in a pool
    # file (the renderer's handling of them is tested in solver/html).
    names = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "</title><style>body{display:none}</style>",
        "h'3&amp;<!--",
    ]
    pool = {
        "name": "<script>alert(3)</script>",
        "hosts": [{"name": n, "capacity": {"memory_mib": 65536}} for n in names],
        "vms": [{"name": f"{n}-vm{j}", "host": n, "demand": {"memory_mib": 16384}} for n in names for j in range(3)],
    }
    src = tmp_path / "hostile.json"
    src.write_text(json.dumps(pool), encoding="utf-8")
    _, text = haplan("report", str(src), "--format", "json")
    answer = json.loads(text)
    html = tmp_path / "hostile.html"
    haplan("report", str(src), "-o", str(html))
    opened = open_page(browser, html)
    try:
        check_numbers(opened.page, answer)
        assert opened.page.query_selector_all("script, img") == []
        body = opened.page.inner_text("body")
        assert "<script>alert(1)</script>" in body and "onerror=alert(2)" in body
        assert "<style>body{display:none}</style>" in body and "h'3&amp;<!--" in body
        assert len(opened.page.query_selector_all("style")) == 1
        assert opened.problems == []
    finally:
        opened.page.close()


def test_print_shows_folded_hosts(browser: Browser, tmp_path: Path) -> None:
    """A pool too large to show whole folds hosts into <details>; printed,
    they are all there."""
    hosts = [{"name": f"h{i:03}", "capacity": {"memory_mib": 65536 + 512 * i}} for i in range(120)]
    vms = [{"name": f"v{i:03}", "host": f"h{i:03}", "demand": {"memory_mib": 16384}} for i in range(120)]
    src = tmp_path / "big.json"
    src.write_text(json.dumps({"name": "big", "hosts": hosts, "vms": vms}), encoding="utf-8")
    html = tmp_path / "big.html"
    haplan("report", str(src), "-o", str(html))
    opened = open_page(browser, html)
    page = opened.page
    try:
        folded = "details table.hosts tbody tr"
        assert page.eval_on_selector_all(folded, "els => els.filter(e => e.checkVisibility()).length") == 0
        page.emulate_media(media="print")
        shown = page.eval_on_selector_all(folded, "els => els.filter(e => e.checkVisibility()).length")
        assert shown == page.eval_on_selector_all(folded, "els => els.length") > 0
        shot(page, "big-print")
        assert opened.problems == []
    finally:
        page.close()
