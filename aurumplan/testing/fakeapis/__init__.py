"""Faithful local fakes of the source APIs over real HTTP on 127.0.0.1: only the base URL differs.

    with EiaServer(api_key="k", quota={"per_second": 5}) as srv:
        httpx.get(srv.base_url + "/electricity/rto/region-data/data/", params=...)
        srv.requests, srv.throttled, srv.log
"""

from aurumplan.testing.fakeapis.base import FakeRequest, FakeResponse, FakeServer, LogEntry
from aurumplan.testing.fakeapis.bls import BlsServer
from aurumplan.testing.fakeapis.eia import EiaServer
from aurumplan.testing.fakeapis.fred import FredServer
from aurumplan.testing.fakeapis.noaa import NoaaServer
from aurumplan.testing.fakeapis.pjm import PjmServer
from aurumplan.testing.fakeapis.quota import SlidingWindowQuota
from aurumplan.testing.fakeapis.synth import ABSENT, MISSING, Profile, Synth

SERVERS: dict[str, type[FakeServer]] = {
    "eia": EiaServer, "fred": FredServer, "bls": BlsServer, "cpi": BlsServer, "noaa": NoaaServer,
    "pjm": PjmServer, "iso": PjmServer,
}

__all__ = [
    "ABSENT", "MISSING", "SERVERS", "BlsServer", "EiaServer", "FakeRequest", "FakeResponse", "FakeServer",
    "FredServer", "LogEntry", "NoaaServer", "PjmServer", "Profile", "SlidingWindowQuota", "Synth",
]
