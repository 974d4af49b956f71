"""Archive files on their own: streamed in batches, read back whole, named by their content."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurumplan.apply.archive import archive_dir, read_archive, write_archive
from aurumplan.errors import OperationError
from aurumplan.warehouse import Version

OP = "REPLAY_20240102_EIA_abc123"


def versions(n: int, value: float = 1.5) -> list[Version]:
    return [Version("eia", "ELEC.DEMAND", f"S{i % 3}", 1_704_153_600 + 3600 * i, None if i == 4 else value + i,
                    "megawatthours", '{"k":"v"}' if i % 2 else None, f"{OP[:-2]}:x:{i % 2}", f"{OP}:ELEC.DEMAND:0")
            for i in range(n)]


def test_many_batches_read_back_exactly_and_the_same_rows_keep_one_file(tmp_path: Path) -> None:
    rows = versions(25)
    info = write_archive(tmp_path, OP, "ELEC.DEMAND", iter(rows), batch_rows=7)
    meta, back = read_archive(Path(info["file"]))
    assert back == rows and meta["rows"] == info["rows"] == 25 and meta["operation_id"] == OP
    again = write_archive(tmp_path, OP, "ELEC.DEMAND", iter(rows), batch_rows=10)
    other = write_archive(tmp_path, OP, "ELEC.DEMAND", iter(versions(25, value=2.5)))
    assert again == info and other["file"] != info["file"]
    assert sorted(p.name for p in (tmp_path / OP).iterdir()) == sorted(
        Path(i["file"]).name for i in (info, other))  # no temporary file left behind


def test_nothing_replaced_writes_no_file(tmp_path: Path) -> None:
    assert write_archive(tmp_path, OP, "ELEC.DEMAND", iter([]))["file"] is None
    assert list((tmp_path / OP).iterdir()) == []


def test_an_unwritable_folder_is_one_error_naming_the_fix(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OperationError) as err:
        write_archive(tmp_path / "file", OP, "ELEC.DEMAND", iter(versions(3)))
    assert "nothing was committed" in str(err.value) and "spec.archive.to" in str(err.value)


def test_relative_folders_are_the_spec_folder_s(tmp_path: Path) -> None:
    assert archive_dir("archive", "plans/replay.yaml", tmp_path) == tmp_path / "plans" / "archive"
    assert archive_dir("/data/archive", "plans/replay.yaml", tmp_path) == Path("/data/archive")
