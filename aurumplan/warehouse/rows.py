"""Row conversions and the order-independent checksum of records.

The checksum of a set of rows is the sum, mod 2**64, of a 64-bit hash of each row's canonical
text, so it does not depend on the order rows were written in: a load interrupted and resumed
and the same load written in one go have the same checksum.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

_EPOCH = dt.datetime(1970, 1, 1)
_SECOND = dt.timedelta(seconds=1)
MASK = (1 << 64) - 1
ROW_WIDTH = 5
"""Column values per row in what row_values builds (series_id, period, value, unit, attributes): the
load's id, source and dataset are the same for every row of a load, and bound once per INSERT."""
ZERO = "0" * 16

Row = tuple[str, str, str, int, float | None, str | None, Any]
"""(source, dataset, series_id, period epoch seconds, value, unit, attributes dict|str|None)."""
Record = tuple[str, int, float | None, str | None, Any]
"""A row of a known load without its source and dataset: what a source driver's parser yields."""


class ObsRow(NamedTuple):
    source: str
    dataset: str
    series_id: str
    period: int
    value: float | None
    unit: str | None
    attributes: dict[str, Any] | None
    load_id: str


@lru_cache(maxsize=1 << 20)
def naive_utc(ts: int) -> dt.datetime:
    """Epoch seconds as a naive UTC datetime (cached: periods repeat across series)."""
    return _EPOCH + dt.timedelta(seconds=ts)


@lru_cache(maxsize=1 << 20)
def sqlite_ts(ts: int) -> str:
    """Epoch seconds in the text form SQLAlchemy stores DateTime in on SQLite."""
    return (_EPOCH + dt.timedelta(seconds=ts)).strftime("%Y-%m-%d %H:%M:%S.000000")


def epoch(value: dt.datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return (value - _EPOCH) // _SECOND


def attrs_text(attrs: Any) -> str | None:
    if attrs is None or isinstance(attrs, str):
        return attrs
    return json.dumps(attrs, sort_keys=True, separators=(",", ":"), default=str)


def hash_prefix(source: str, dataset: str, series_id: str) -> tuple[int, int]:
    """The running CRC-32 and Adler-32 of a row's constant head, reused for every row of a series."""
    head = f"{source}\x1f{dataset}\x1f{series_id}\x1f".encode()
    return zlib.crc32(head), zlib.adler32(head)


def hash_tail(prefix: tuple[int, int], period: int, value: float | None, unit: str | None,
              attributes: str | None) -> int:
    """A row's 64-bit hash: both checksums continued from its series' prefix over the rest of its text."""
    tail = f"{period}\x1f{'' if value is None else repr(value)}\x1f{unit or ''}\x1f{attributes or ''}".encode()
    return (zlib.crc32(tail, prefix[0]) << 32) | zlib.adler32(tail, prefix[1])


def row_hash(source: str, dataset: str, series_id: str, period: int, value: float | None,
             unit: str | None, attributes: str | None) -> int:
    """The hash of a row's canonical text (fields joined by 0x1f)."""
    return hash_tail(hash_prefix(source, dataset, series_id), period, value, unit, attributes)


def checksum_of(rows: Iterable[tuple[str, str, str, int, float | None, str | None, str | None]]) -> int:
    total = 0
    for r in rows:
        total += row_hash(*r)
    return total & MASK


def hex64(value: int) -> str:
    return f"{value & MASK:016x}"


def row_values(source: str, dataset: str, records: Sequence[Record], sqlite: bool,
               hashes: list[int] | None = None) -> tuple[list[Any], int]:
    """The records' observation column values, flattened (ROW_WIDTH per row), and their checksum.

    The hot loop of staging (writes.write_records, or a parse worker: executors/parsepool.py).
    Each series' constant prefix is hashed once per call; periods repeat across series, so each is
    converted once. With `hashes`, each row's hash is appended to it too, for a caller that splits
    the rows into transactions later.

    An empty unit or attributes is stored as NULL (it hashes as NULL does). For SQLite it is bound
    as '' and turned into NULL by the INSERT (writes._SQLITE_INSERT): pysqlite binds None through
    its adapter lookup, which cost a third of the INSERT for the one NULL column most rows have.
    """
    blank = "" if sqlite else None
    to_ts: Callable[[int], Any] = sqlite_ts if sqlite else naive_utc
    flat: list[Any] = []
    add = flat.extend
    total = 0
    prefix: dict[str, tuple[int, int]] = {}
    texts: dict[int, str | None] = {}
    stamps: dict[int, Any] = {}
    same: dict[Any, Any] = {}  # one object per distinct series id and unit: pickled once, not per row
    each = hashes.append if hashes is not None else None
    crc32, adler32 = zlib.crc32, zlib.adler32
    last: str | None = None  # rows come series by series (parsepool.Keep.records): the prefix changes rarely
    crc = adler = 0
    for sid, period, value, unit, attrs in records:
        if sid != last:
            last = sid = same.setdefault(sid, sid)
            pre = prefix.get(sid)
            if pre is None:
                pre = prefix[sid] = hash_prefix(source, dataset, sid)
            crc, adler = pre
        else:
            sid = last
        unit = same.setdefault(unit, unit) if unit else blank
        if attrs is None or attrs.__class__ is str:
            text = attrs or blank
        else:
            text = texts.get(id(attrs))
            if text is None:
                text = texts[id(attrs)] = attrs_text(attrs)
        if value is None:
            shown = ""
        else:
            if value.__class__ is not float:
                value = float(value)
            if value != value:  # NaN: stored as NULL by SQLite, so hash it as NULL everywhere
                value, shown = None, ""
            else:
                if not value:  # -0.0: SQLite stores 0.0, so store and hash 0.0 everywhere
                    value = 0.0
                shown = repr(value)
        # hash_tail, inline: a call per row cost ~10% of this loop
        tail = f"{period}\x1f{shown}\x1f{unit or ''}\x1f{text or ''}".encode()
        h = (crc32(tail, crc) << 32) | adler32(tail, adler)
        total += h
        if each is not None:
            each(h)
        stamp = stamps.get(period)
        if stamp is None:
            stamp = stamps[period] = to_ts(period)
        add((sid, stamp, value, unit, text))
    return flat, total & MASK
