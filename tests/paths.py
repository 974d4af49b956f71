"""Where the reference material is: `shared/` beside the repository (as on developer machines and CI)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RECORDED = SHARED / "sources" / "recorded"
