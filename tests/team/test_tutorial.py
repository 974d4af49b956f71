"""docs/tutorial.md, run: every `bash` block in order, in one shell, on PostgreSQL, offline.

Three lines are replaced, each asserted to be in the tutorial: `pip install aurumplan` (this checkout's
aurumplan is on PATH instead), the database URL (a fresh PostgreSQL schema), and the EIA key (the
recorded responses of examples/recordings/eia serve the requests instead).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.state.dburl import pg_schema_url, pg_unreachable
from tests.team.common import EXAMPLES

TUTORIAL = EXAMPLES.parent / "docs" / "tutorial.md"
BIN = Path(sys.executable).parent


def script(db_url: str) -> str:
    text = TUTORIAL.read_text()
    replaced = {
        "pip install aurumplan": "true",
        "export DB=postgresql+psycopg://aurumplan@127.0.0.1:5432/aurumplan": f"export DB='{db_url}'",
        "export EIA_API_KEY=your-key": f"export AURUMPLAN_EIA_RECORDINGS='{EXAMPLES / 'recordings' / 'eia'}'",
    }
    blocks = re.findall(r"^```bash\n(.*?)^```$", text, flags=re.M | re.S)
    assert len(blocks) >= 6
    body = "\n".join(blocks)
    for line, replacement in replaced.items():
        assert re.search(rf"^{re.escape(line)}$", body, flags=re.M), f"the tutorial no longer says `{line}`"
        body = re.sub(rf"^{re.escape(line)}$", replacement, body, flags=re.M)
    return body


@pytest.mark.postgres
def test_tutorial_runs_from_install_to_the_applied_merge(tmp_path: Path) -> None:
    if pg_unreachable():
        pytest.fail(f"PostgreSQL unreachable: {pg_unreachable()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURUMPLAN_")}
    env.update({"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(tmp_path), "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    for url in pg_schema_url():
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script(url)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=240)
        out = done.stdout + done.stderr
        assert done.returncode == 0, out[-4000:]
        assert out.count("1 spec(s) valid.") == 2
        assert "plans/backfill-eia-demand-2024-01.yaml" in (tmp_path / "energy-plans" / "comment.md").read_text()
        assert re.search(r"BACKFILL_20240107_EIA_\w+: succeeded\. Periods loaded 504", out), out[-3000:]
        assert len(re.findall(r"^eia +ELEC\.DEMAND +(PJM|MISO|ERCO) .* 168 records", out, flags=re.M)) == 3
        assert out.rstrip().endswith("Plan: 0 periods to create, 0 to replace, 504 unchanged. 0 requests, "
                                     "0 records, at least 0.0s.")
        assert "about 0.0s (quota floor 0.0s; last run)." in out
