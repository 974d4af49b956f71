"""The built wheel carries aurumplan and its data files, and none of the test doubles (tests/doubles/).

Fake APIs and the fake SeaTunnel serve tests and the offline walkthroughs from the repository; a user's
installation must not ship fake servers beside the real executors.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKE_MARKERS = ("class FakeServer", "class FakeZetaServer", "def install_fake_seatunnel", "tests.doubles")


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Build the wheel from a copy of the tree (so parallel runs never share build/); name -> text of .py files."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".venv*", "build")
    for name in ("aurumplan", "tests"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "out"), str(src)],
                   check=True, capture_output=True, timeout=240)
    (wheel,) = (tmp / "out").glob("aurumplan-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return {n: zf.read(n).decode() if n.endswith(".py") else "" for n in zf.namelist()}


def test_wheel_holds_the_package_and_its_data(wheel_names: dict[str, str]) -> None:
    assert "aurumplan/executors/seatunnel/cli.py" in wheel_names
    assert "aurumplan/executors/seatunnel/rest.py" in wheel_names
    assert any(n.startswith("aurumplan/catalog/") and n.endswith(".yaml") for n in wheel_names)


def test_wheel_holds_no_fake_server(wheel_names: dict[str, str]) -> None:
    outside = sorted(n for n in wheel_names if not n.startswith(("aurumplan/", "aurumplan-")))
    assert outside == []
    assert not [n for n in wheel_names if "testing/" in n or "fake" in n.lower() or "doubles" in n]
    carrying = sorted(n for n, text in wheel_names.items() if any(m in text for m in FAKE_MARKERS))
    assert carrying == []
