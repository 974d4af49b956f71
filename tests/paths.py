"""Where the tests' fixtures are: tests/fixtures/, copied into the repository (tests/fixtures/README.md)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RECORDED = FIXTURES / "recorded"
SEATUNNEL_EXAMPLES = FIXTURES / "seatunnel_examples"
