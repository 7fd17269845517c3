"""Regenerate the report's demonstration under docs/ (not a test; run by hand):

    python -m tests.records.make_docs

- docs/report-2026-11.html, docs/report-2026-11.csv: ``python -m bot report --demo``
  (a generated month, the real CLI);
- docs/console-report.png: the supervisor's page in the console, the whole bot in
  this process (in-process store, local mode) with the same generated month,
  photographed by Playwright with Debian's chromium (fonts-noto-cjk for Japanese).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MONTH = "2026-11"
PASSWORD = "Docs-report-password-9"


def report_files() -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "bot", "report", "--month", MONTH, "--demo", "--out", out],
                       cwd=ROOT, check=True)
        shutil.copy(Path(out) / "report.html", DOCS / f"report-{MONTH}.html")
        shutil.copy(Path(out) / "records.csv", DOCS / f"report-{MONTH}.csv")


def screenshot() -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from bot.console.auth import accounts_of
    from bot.records.demo import generate
    from bot.web import create_app, runtime_of

    for name in ("REDIS_URL", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"):
        os.environ.pop(name, None)
    app = create_app({"TESTING": True, "BOT_LOCAL_CHAT": "1"})
    runtime = runtime_of(app)
    generate(runtime.client, runtime.keys, runtime.dialogue.directory, month=MONTH)
    accounts_of(app).add("yamada", "supervisor", PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="ja-JP")
            page.goto(f"{base}/console/login")
            page.fill("input[name=name]", "yamada")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/console/report?month={MONTH}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(DOCS / "console-report.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        runtime.stop()


if __name__ == "__main__":
    report_files()
    screenshot()
    print("wrote docs/report-2026-11.html, docs/report-2026-11.csv, docs/console-report.png")
