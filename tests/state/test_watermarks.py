"""Watermarks behave exactly like IntervalMap.assign/remove, and stay fast at 100k rows."""

from __future__ import annotations

import random
import time

import pytest

from aurumplan.errors import FencedError
from aurumplan.intervals import IntervalMap, IntervalSet
from aurumplan.state import WatermarkRef, open_state

H = 3600


def _random_where(rng: random.Random) -> IntervalSet:
    ivs = []
    for _ in range(rng.randint(1, 3)):
        s = rng.randrange(0, 48) * H
        ivs.append((s, s + rng.randint(1, 12) * H))
    return IntervalSet(ivs)


def test_writes_split_and_overwrite_like_interval_map(db_url: str) -> None:
    store = open_state(db_url)
    rng = random.Random(7)
    refs = [WatermarkRef(f"L{i}", f"OP{i % 3}", f"ck{i}", "v1" if i % 2 else None) for i in range(5)]
    model: dict[tuple[str, str], IntervalMap[WatermarkRef]] = {}
    for _ in range(120):
        key = (rng.choice(["ELEC.DEMAND", "ELEC.GEN"]), rng.choice(["PJM", "MISO"]))
        where = _random_where(rng)
        current = model.get(key, IntervalMap())
        if rng.random() < 0.75:
            ref = rng.choice(refs)
            store.set_watermarks("eia", *key, where, ref, records=where.duration() // H)
            model[key] = current.assign(where, ref)
        else:
            store.remove_watermarks("eia", *key, where)
            model[key] = current.remove(where)
        got = store.watermarks("eia")
        assert {k: v for k, v in got.items()} == {k: v for k, v in model.items() if len(v)}
    assert store.watermarks("eia", dataset="ELEC.GEN", series=["MISO"]) == (
        {("ELEC.GEN", "MISO"): model[("ELEC.GEN", "MISO")]} if len(model[("ELEC.GEN", "MISO")]) else {})
    assert store.watermarks("fred") == {}
    store.close()


def test_a_batch_of_writes_equals_the_same_writes_one_by_one(db_url: str) -> None:
    """set_watermarks_many (a commit's whole dataset, or a rollback's snapshot with the periods it clears)
    must leave exactly the rows, records included, that the same removals and items written in order
    leave, in one transaction: disjoint batches take a faster path."""
    store = open_state(db_url)
    rng = random.Random(11)
    refs = [WatermarkRef(f"L{i}", f"OP{i}", f"ck{i}", None) for i in range(6)]
    for round_ in range(25):
        items = []
        for sid in rng.sample(["PJM", "MISO", "ERCO"], rng.randint(1, 3)):
            for _ in range(rng.randint(1, 4)):
                where = _random_where(rng) if round_ % 2 else IntervalSet(
                    [(rng.randrange(0, 10) * 12 * H, rng.randrange(0, 10) * 12 * H + 6 * H)])
                items.append((sid, where, rng.choice(refs), rng.randint(0, 40)))
        clear = {sid: _random_where(rng) for sid in rng.sample(["PJM", "MISO", "ERCO"], rng.randint(0, 3))}
        before = store.serial()
        store.set_watermarks_many("batch", "D", items, clear=clear)
        assert store.serial() == before + 1  # one transaction, a rollback's restore included
        for sid, where in clear.items():
            store.remove_watermarks("seq", "D", sid, where)
        for sid, where, ref, records in items:
            store.set_watermarks("seq", "D", sid, where, ref, records=records)

        def rows(source: str) -> list[tuple[object, ...]]:
            return [(r.series_id, r.start, r.end, r.ref, r.records) for r in store.watermark_rows(source)]

        assert rows("batch") == rows("seq")
    assert rows("batch")
    store.close()


def test_records_follow_the_rows_they_belong_to(db_url: str) -> None:
    store = open_state(db_url)
    a, b = WatermarkRef("L1", "OP1"), WatermarkRef("L2", "OP2")
    store.set_watermarks("eia", "D", "S", IntervalSet([(0, 24 * H)]), a, records=24)
    store.set_watermarks("eia", "D", "S", IntervalSet([(6 * H, 12 * H), (30 * H, 32 * H)]), b,
                         records={(6 * H, 12 * H): 6, (30 * H, 31 * H): 1, (31 * H, 32 * H): 1})
    rows = [(r.start // H, r.end // H, r.ref.load_id, r.records) for r in store.watermark_rows("eia")]
    assert rows == [(0, 6, "L1", 6), (6, 12, "L2", 6), (12, 24, "L1", 12), (30, 32, "L2", 2)]
    store.close()


def test_a_fenced_writer_cannot_overwrite_a_newer_one(db_url: str) -> None:
    store = open_state(db_url)
    where = IntervalSet([(0, H)])
    store.set_watermarks("eia", "D", "S", where, WatermarkRef("L2", "OP2"), fence=("eia/D/S", 8))
    with pytest.raises(FencedError):
        store.set_watermarks("eia", "D", "S", where, WatermarkRef("L1", "OP1"), fence=("eia/D/S", 7))
    assert store.watermarks("eia")[("D", "S")].values() == {WatermarkRef("L2", "OP2")}
    store.close()


def test_hundred_thousand_fragmented_rows_round_trip(db_url: str) -> None:
    store = open_state(db_url)
    ref = WatermarkRef("L1", "OP1", "abc", "v1")
    per_series = 25_000
    for series in ("PJM", "MISO", "ERCO", "CISO"):
        where = IntervalSet((i * 2 * H, i * 2 * H + H) for i in range(per_series))
        store.set_watermarks("eia", "ELEC.DEMAND", series, where, ref, records=per_series)
    started = time.perf_counter()
    got = store.watermarks("eia")
    elapsed = time.perf_counter() - started
    print(f"read 100,000 watermark rows in {elapsed:.2f}s ({db_url.split(':')[0]})")
    assert sorted(got) == [("ELEC.DEMAND", s) for s in ("CISO", "ERCO", "MISO", "PJM")]
    assert sum(len(m) for m in got.values()) == 100_000
    assert list(got[("ELEC.DEMAND", "PJM")])[-1] == ((per_series - 1) * 2 * H, (per_series - 1) * 2 * H + H, ref)
    if db_url.startswith("sqlite"):
        assert elapsed < 2.0
    store.close()
