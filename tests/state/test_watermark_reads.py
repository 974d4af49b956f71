"""Watermark reads as planning uses them: one immutable ref per load, runs of a load coalesced."""

from __future__ import annotations

import dataclasses

import pytest

from aurumplan.intervals import IntervalSet
from aurumplan.state import WatermarkRef, open_state

H = 3600


def test_one_ref_per_load_and_adjacent_rows_of_a_load_coalesced(db_url: str) -> None:
    store = open_state(db_url)
    a, b = WatermarkRef("L1", "OP1", "c1", "v1"), WatermarkRef("L2", "OP2")
    store.set_watermarks("eia", "D", "S1", IntervalSet([(0, 2 * H), (5 * H, 6 * H)]), a, 3)
    store.set_watermarks("eia", "D", "S2", IntervalSet([(0, H)]), a, 1)
    store.set_watermarks("eia", "D", "S2", IntervalSet([(H, 3 * H)]), b, 2)
    store.set_watermarks("eia", "D", "S2", IntervalSet([(3 * H, 4 * H)]), a, 1)
    got = store.watermarks("eia")
    assert got[("D", "S1")].items() == ((0, 2 * H, a), (5 * H, 6 * H, a))
    assert got[("D", "S2")].items() == ((0, H, a), (H, 3 * H, b), (3 * H, 4 * H, a))
    refs = [v for m in got.values() for _, _, v in m]
    assert len({id(r) for r in refs if r == a}) == 1  # one object per distinct load
    ref = got[("D", "S2")].items()[1][2]
    assert ref == b and hash(ref) == hash(b) and ref != a
    assert (ref.load_id, ref.operation_id, ref.checksum, ref.schema_version) == ("L2", "OP2", None, None)
    store.close()


def test_watermark_ref_is_immutable() -> None:
    ref = WatermarkRef("L1", "OP1")
    with pytest.raises((AttributeError, dataclasses.FrozenInstanceError)):
        ref.load_id = "L2"  # type: ignore[misc]
    assert repr(ref) == "WatermarkRef(load_id='L1', operation_id='OP1', checksum=None, schema_version=None)"
