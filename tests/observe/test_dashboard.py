"""`dashboard`: one self-contained page whose figures equal `cost --json`, `trends --json`, `health --json`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import zlib
from html import unescape
from pathlib import Path

import pytest

from aurumplan.state import open_state
from tests.apply.common import run
from tests.observe.test_cost_trends import DEC, PRICES, add

RANGE = "2024-12-01:2024-12-31"


@pytest.fixture()
def page(tmp_path: Path) -> tuple[Path, Path]:
    url = f"sqlite:///{tmp_path}/s.db"
    (tmp_path / "aurumplan.yaml").write_text(f"state: '{url}'\n{PRICES}")
    store = open_state(url)
    add(store, "B1", "Backfill", "eia", "alice", "succeeded", DEC, requests=2000, bytes=2e9, records=10,
        duration_seconds=3600)
    add(store, "R1", "Replay", "fred", "bob", "failed", DEC + 60, requests=500, records=5, duration_seconds=100)
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.create_operation("RUN1", "Reprocess", "eia", status="running", host=socket.gethostname(), pid=dead.pid,
                           now=DEC + 120)
    store.close()
    out = tmp_path / "ops.html"
    code, text, err = run(tmp_path, "dashboard", "-o", str(out), "--cost-range", RANGE, "--trends-range", RANGE)
    assert code == 0, err
    assert text.startswith(f"Wrote {out} (3 operations, DOWN)")  # RUN1 is interrupted
    return tmp_path, out


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="aurumplan-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_page_figures_equal_the_commands(page: tuple[Path, Path]) -> None:
    project, out = page
    html = out.read_text()
    data = embedded(html)
    assert data["cost"] == json.loads(run(project, "cost", "--range", RANGE, "--format", "json")[1])
    assert data["trends"] == json.loads(run(project, "trends", "--range", RANGE, "--json")[1])
    assert data["health"]["checks"] == json.loads(run(project, "health", "--offline", "--json")[1])["checks"]
    assert [o["id"] for o in data["active"]] == ["RUN1"] and data["active"][0]["status"] == "interrupted"
    assert [o["id"] for o in data["failures"]] == ["R1"]
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert "n1: boom" in text and "RUN1" in text and "interrupted" in text
    total = data["cost"]["total"]
    assert f"{total['cost']:g} EUR" in text and str(total["requests"]) in text
    p95s = [r["p95_duration_seconds"] for r in data["trends"]["rows"] if r["p95_duration_seconds"] is not None]
    assert p95s == [3600, 100]
    assert all(f" {v:g} " in text for v in p95s)


def test_page_needs_no_network(page: tuple[Path, Path]) -> None:
    html = page[1].read_text()
    assert not re.search(r"\b(src|href)\s*=", html) and "<link" not in html and "@import" not in html
    assert "<svg" in html


def _png_is_blank(png: bytes) -> bool:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        if png[pos + 4:pos + 8] == b"IDAT":
            idat += png[pos + 8:pos + 8 + n]
        pos += 12 + n
    return len(set(zlib.decompress(idat))) < 16


def test_page_renders_in_headless_chromium(page: tuple[Path, Path], tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is missing: .ci/run installs the Debian package `chromium`")
        pytest.skip("headless Chromium is not installed (Debian package `chromium`)")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", f"--screenshot={shot}",
                    page[1].as_uri()], check=True, capture_output=True, timeout=120)
    assert not _png_is_blank(shot.read_bytes())
