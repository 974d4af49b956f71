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

from aurumplan.intervals import DAY, IntervalSet, fmt_ts
from aurumplan.state import open_state
from aurumplan.state.models import WatermarkRef
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
    ref = WatermarkRef("l1", "B1")
    store.set_watermarks("eia", "ELEC.DEMAND", "PJM", IntervalSet([(DEC, DEC + 5 * DAY)]), ref)
    store.set_watermarks("eia", "ELEC.DEMAND", "MISO", IntervalSet([(DEC, DEC + DAY // 2)]), ref)
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
    assert "sourceMappingURL" not in html
    assert "Chart.js v4.4.9" in html and 'id="cost-chart"' in html and 'id="coverage-heatmap"' in html


def test_coverage_cells(page: tuple[Path, Path]) -> None:
    cov = embedded(page[1].read_text())["coverage"]
    assert cov["column_seconds"] == DAY and len(cov["columns"]) == 5 and cov["columns"][0].startswith("2024-12-10")
    rows = {r["series"]: [c["status"] for c in r["cells"]] for r in cov["rows"]}
    assert rows == {"PJM": ["loaded"] * 5, "MISO": ["partial"] + ["missing"] * 4}
    assert [r["cells"][0]["loaded"] for r in cov["rows"]] == [0.5, 1.0]  # MISO, PJM


def test_a_failed_node_marks_its_cells_failed(tmp_path: Path) -> None:
    from aurumplan.catalog import load_catalog
    from aurumplan.observe.coverage import coverage

    store = open_state(f"sqlite:///{tmp_path}/s.db")
    plan = {"graph": {"nodes": [{"id": "D/extract/0", "kind": "extract", "dataset": "ELEC.DEMAND", "series": ["PJM"],
                                 "window": [fmt_ts(DEC + 2 * DAY), fmt_ts(DEC + 3 * DAY)]}], "edges": []}}
    store.create_operation("F1", "Backfill", "eia", status="failed", plan=json.dumps(plan))
    store.upsert_checkpoint("F1", "D/extract/0", status="failed", error="boom")
    store.set_watermarks("eia", "ELEC.DEMAND", "PJM", IntervalSet([(DEC, DEC + 2 * DAY)]), WatermarkRef("l", "x"))
    cov = coverage(store, load_catalog())
    assert [c["status"] for c in cov["rows"][0]["cells"]] == ["loaded", "loaded", "failed"]


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
    project, out = page
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"]
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", out.as_uri()], check=True, capture_output=True, timeout=120)
    assert not _png_is_blank(shot.read_bytes())
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    m = re.search(r'<pre id="rendered" hidden="">(.*?)</pre>', dom, re.S)
    assert m, "the charts script did not run"
    drawn = json.loads(unescape(m.group(1)))
    cost = json.loads(run(project, "cost", "--range", RANGE, "--format", "json")[1])
    assert drawn["cost_chart"]["labels"] == [r["kind"] for r in cost["rows"]]
    assert drawn["cost_chart"]["values"] == [r["requests"] for r in cost["rows"]]
    assert drawn["cost_chart"]["painted"] > 1000
    heat = drawn["heatmap"]
    assert (heat["rows"], heat["columns"], heat["cells"]) == (2, 5, 10)
    assert heat["counts"] == {"loaded": 5, "partial": 1, "missing": 4} and heat["painted"] > 1000
