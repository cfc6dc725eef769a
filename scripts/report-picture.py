"""Renders docs/report.png, the README's picture of ``haplan report``: the
top of the page of fixtures/basic/demo.json (with the headroom for 16 GiB,
4 vCPU VMs), in headless Chromium. Needs the release binary and what
scripts/deps.sh installs. Run: python3 scripts/report-picture.py"""

import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

with tempfile.TemporaryDirectory() as tmp:
    page_path = Path(tmp) / "demo.html"
    subprocess.run([str(ROOT / "target/release/haplan"), "report", str(ROOT / "fixtures/basic/demo.json"),
                    "--vm", '{"memory_mib": 16384, "vcpus": 4}', "-o", str(page_path)], check=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1000}, device_scale_factor=1)
        page.goto(page_path.as_uri())
        bottom = page.eval_on_selector("#worst", "e => e.getBoundingClientRect().bottom + window.scrollY")
        page.screenshot(path=str(ROOT / "docs/report.png"), full_page=True, clip={"x": 0, "y": 0, "width": 1100, "height": bottom + 10})
        browser.close()
