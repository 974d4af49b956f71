"""Coverage counts per day and month, and the plain-text heat strip."""

from __future__ import annotations

from aurumplan.catalog import Catalog
from aurumplan.intervals import parse_ts
from aurumplan.quality import CoverageRow, coverage, heat_strip, render_coverage_markdown
from tests.quality.conftest import Warehouse, hours


def _load(wh: Warehouse) -> None:
    miso = hours("MISO", "2024-01-01", 24)
    miso[0] = ("MISO", miso[0][1], None)
    wh.load("a", "ELEC.DEMAND", hours("PJM", "2024-01-01", 36) + miso)


def test_daily_counts_against_expected(wh: Warehouse, catalog: Catalog) -> None:
    _load(wh)
    n = len(catalog.dataset("eia", "ELEC.DEMAND").series)
    with wh.connect() as conn:
        rows = coverage(conn, catalog, "eia", dataset="ELEC.DEMAND")
    assert [(r.bucket, r.records, r.with_value, r.expected) for r in rows] == [
        ("2024-01-01", 48, 47, 24 * n), ("2024-01-02", 12, 12, 24 * n)]
    assert rows[0].share == 48 / (24 * n)


def test_monthly_counts(wh: Warehouse, catalog: Catalog) -> None:
    _load(wh)
    n = len(catalog.dataset("eia", "ELEC.DEMAND").series)
    with wh.connect() as conn:
        rows = coverage(conn, catalog, "eia", monthly=True)
    assert [(r.dataset, r.bucket, r.records, r.expected) for r in rows] == [
        ("ELEC.DEMAND", "2024-01", 60, 31 * 24 * n)]


def test_window_shows_every_dataset_and_empty_days(wh: Warehouse, catalog: Catalog) -> None:
    _load(wh)
    with wh.connect() as conn:
        rows = coverage(conn, catalog, "eia", window=(parse_ts("2024-01-01"), parse_ts("2024-01-04")))
    by = {(r.dataset, r.bucket): r for r in rows}
    assert {d for d, _ in by} == set(catalog.source("eia").datasets)
    assert by[("ELEC.DEMAND", "2024-01-03")].records == 0
    assert by[("ELEC.PRICE", "2024-01-01")].expected == len(catalog.dataset("eia", "ELEC.PRICE").series)
    assert by[("ELEC.PRICE", "2024-01-02")].share is None


def test_heat_strip_is_deterministic_text() -> None:
    rows = [CoverageRow("ELEC.DEMAND", f"2024-01-0{i + 1}", 0, n, n, 24, n / 24)
            for i, n in enumerate([24, 12, 0, 1, 30])]
    rows.append(CoverageRow("ELEC.PRICE", "2024-01-01", 0, 0, 0, 0, None))
    text = heat_strip(rows, width=3)
    assert text.splitlines()[:5] == [
        "ELEC.DEMAND  67 of 120 expected records (55.8%)",
        "             2024-01-01 |@+ | 2024-01-03",
        "             2024-01-04 |.@| 2024-01-05",
        "ELEC.PRICE   0 of 0 expected records (n/a)",
        "             2024-01-01 |~| 2024-01-01",
    ]
    assert text.splitlines()[-1].startswith("legend: ' ' none, '.' <12.5%, ':' <25%")
    assert heat_strip(rows, width=3) == text
    assert "```" in render_coverage_markdown(rows)
