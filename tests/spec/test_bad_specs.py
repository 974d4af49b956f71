"""Every bad spec in tests/spec/bad/ reports exactly the problems its `# expect:` lines name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aurumplan.catalog import load_catalog
from aurumplan.catalog.check import check_spec, validate_files
from aurumplan.errors import Diagnostic, SpecError
from aurumplan.spec.loader import load_spec

BAD = Path(__file__).parent / "bad"
FILES = sorted(BAD.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.*)$")


def expectations(path: Path) -> list[tuple[int, int, str]]:
    """`# expect: LINE:COL: message` lines; a message ending in ` ...` is a prefix."""
    found = []
    for line in path.read_text().splitlines():
        m = EXPECT.match(line)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return found


def diagnose(path: Path) -> list[Diagnostic]:
    try:
        loaded = load_spec(path)
    except SpecError as err:
        return list(err.diagnostics)
    return check_spec(loaded, load_catalog())


def matches(d: Diagnostic, line: int, col: int, message: str) -> bool:
    if (d.line, d.col) != (line, col):
        return False
    if message.endswith(" ..."):
        return d.message.startswith(message[:-4])
    return d.message == message


def test_there_are_enough_bad_specs() -> None:
    assert len(FILES) >= 30
    assert all(expectations(f) for f in FILES), [f.name for f in FILES if not expectations(f)]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bad_spec_reports_exact_position_and_message(path: Path) -> None:
    expected = expectations(path)
    got = diagnose(path)
    assert all(d.file == str(path) for d in got), got
    assert len(got) == len(expected), [str(d) for d in got]
    for line, col, message in expected:
        assert any(matches(d, line, col, message) for d in got), (line, col, message, [str(d) for d in got])


def test_all_errors_of_a_file_come_at_once() -> None:
    path = BAD / "three-errors.yaml"
    with pytest.raises(SpecError) as err:
        load_spec(path)
    lines = str(err.value).splitlines()
    assert [ln.split(": ", 1)[0] for ln in lines] == [f"{path}:7:9", f"{path}:13:16", f"{path}:14:3"]


def test_validate_files_collects_every_file() -> None:
    picked = [BAD / "unknown-source.yaml", BAD / "bad-timezone.yaml", BAD / "three-errors.yaml"]
    diags = validate_files(picked, load_catalog())
    assert {d.file for d in diags} == {str(p) for p in picked}
    assert len(diags) == 5


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "nope.yaml")
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}:1:1: spec file not found"
