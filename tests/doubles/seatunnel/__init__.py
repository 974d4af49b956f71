"""Fakes of Apache SeaTunnel for tests: the `seatunnel.sh` client and the Zeta REST API v2.

Both run jobs for real against local HTTP APIs and a real warehouse database; only the Sql
transform is simulated (see engine.py).
"""

from tests.doubles.seatunnel.fakecli import install_fake_seatunnel
from tests.doubles.seatunnel.fakerest import FakeZetaServer

__all__ = ["FakeZetaServer", "install_fake_seatunnel"]
