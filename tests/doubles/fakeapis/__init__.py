"""Faithful local fakes of the source APIs over real HTTP on 127.0.0.1: only the base URL differs.

    with EiaServer(api_key="k", quota={"per_second": 5}) as srv:
        httpx.get(srv.base_url + "/electricity/rto/region-data/data/", params=...)
        srv.requests, srv.throttled, srv.log
"""

from tests.doubles.fakeapis.base import FakeRequest, FakeResponse, FakeServer, LogEntry
from tests.doubles.fakeapis.bls import BlsServer
from tests.doubles.fakeapis.eia import EiaServer
from tests.doubles.fakeapis.fred import FredServer
from tests.doubles.fakeapis.noaa import NoaaServer
from tests.doubles.fakeapis.pjm import PjmServer
from tests.doubles.fakeapis.quota import SlidingWindowQuota
from tests.doubles.fakeapis.synth import ABSENT, MISSING, Profile, Synth

SERVERS: dict[str, type[FakeServer]] = {
    "eia": EiaServer, "fred": FredServer, "bls": BlsServer, "cpi": BlsServer, "noaa": NoaaServer,
    "pjm": PjmServer, "iso": PjmServer,
}

__all__ = [
    "ABSENT", "MISSING", "SERVERS", "BlsServer", "EiaServer", "FakeRequest", "FakeResponse", "FakeServer",
    "FredServer", "LogEntry", "NoaaServer", "PjmServer", "Profile", "SlidingWindowQuota", "Synth",
]
