"""Archive files: the versions a Replay replaces, exported to Parquet before its commit switches.

Named `DIR/<operation id>/<dataset>-<content hash>.parquet` and written to a temporary name, then
renamed: a file that exists is complete, a rerun after a crash writes the same name (and skips it),
two operations never share a folder, and two commits with different rows never share a name. So no
archive file is ever overwritten with other content. docs/replay.md, "Archive and retention".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from aurumplan.errors import OperationError
from aurumplan.warehouse import Version, Warehouse

FORMAT = 1
_META = b"aurumplan.archive"
_FIELDS: list[pa.Field[Any]] = [
    pa.field("source", pa.string()), pa.field("dataset", pa.string()), pa.field("series_id", pa.string()),
    pa.field("period", pa.timestamp("s", tz="UTC")), pa.field("value", pa.float64()),
    pa.field("unit", pa.string()), pa.field("attributes", pa.string()), pa.field("load_id", pa.string()),
    pa.field("replaced_by", pa.string())]
_SCHEMA = pa.schema(_FIELDS)
_COLUMNS = [f.name for f in _SCHEMA]


def archive_dir(to: str, spec_file: str, cwd: Path | None = None) -> Path:
    """The archive folder: `to` as written when absolute, else relative to the spec's folder."""
    p = Path(to).expanduser()
    if p.is_absolute():
        return p
    return ((cwd or Path.cwd()) / spec_file).resolve().parent / p


def _digest(versions: Sequence[Version]) -> str:
    h = hashlib.sha256()
    for v in sorted(versions, key=lambda v: (v.series_id, v.period, v.load_id)):
        h.update(json.dumps([v.source, v.dataset, v.series_id, v.period, v.value, v.unit, v.attributes,
                             v.load_id, v.replaced_by], separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def write_archive(folder: Path, operation_id: str, dataset: str, versions: Sequence[Version]) -> dict[str, Any]:
    """Write the versions (if any) to their Parquet file; returns what the commit record keeps."""
    digest = _digest(versions)
    if not versions:
        return {"file": None, "rows": 0, "sha256": digest, "format": "parquet"}
    target = folder / _safe(operation_id) / f"{_safe(dataset)}-{digest[:16]}.parquet"
    info = {"file": str(target), "rows": len(versions), "sha256": digest, "format": "parquet"}
    if target.is_file():
        return info  # the same rows were archived by an earlier try of this commit
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        cols: dict[str, list[Any]] = {c: [getattr(v, c) for v in versions] for c in _COLUMNS}
        meta = {"format": FORMAT, "operation_id": operation_id, "dataset": dataset, "rows": len(versions),
                "sha256": digest}
        table = pa.Table.from_pydict(cols, schema=_SCHEMA).replace_schema_metadata(
            {_META: json.dumps(meta, sort_keys=True).encode()})
        fd, tmp = tempfile.mkstemp(prefix=".archiving-", suffix=".parquet", dir=target.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise OperationError(f"cannot write the archive {target}: {exc.strerror or exc}; nothing was committed",
                             hint="fix the archive folder (spec.archive.to), then resume") from None
    return info


def read_archive(path: Path) -> tuple[dict[str, Any], list[Version]]:
    """The archive's header and versions, checked against the digest written with them."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise OperationError(f"{path}: not a readable archive file ({exc})") from None
    raw = (table.schema.metadata or {}).get(_META)
    if raw is None or table.schema.names != _COLUMNS:
        raise OperationError(f"{path}: not an aurumplan archive (no archive header or other columns)")
    meta: dict[str, Any] = json.loads(raw)
    if meta.get("format") != FORMAT:
        raise OperationError(f"{path}: archive format {meta.get('format')} is not {FORMAT}: "
                             "restore it with the aurumplan version that wrote it")
    rows = table.to_pylist()
    versions = [Version(r["source"], r["dataset"], r["series_id"], int(r["period"].timestamp()), r["value"],
                        r["unit"], r["attributes"], r["load_id"], r["replaced_by"]) for r in rows]
    if _digest(versions) != meta.get("sha256"):
        raise OperationError(f"{path}: its rows do not match the digest written with them (corrupt or edited); "
                             "nothing was restored")
    return meta, versions


def restore_archive(warehouse: Warehouse, path: Path) -> dict[str, Any]:
    """Put the archive's versions back where `gc` removed them; what is current does not change."""
    meta, versions = read_archive(path)
    restored, present = warehouse.restore_versions(versions)
    return {"file": str(path), "operation_id": meta["operation_id"], "dataset": meta["dataset"],
            "rows": len(versions), "restored": restored, "already_present": present}
