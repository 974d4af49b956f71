"""Test doubles kept out of the installed package: local fake source APIs and a fake Apache SeaTunnel.

They live under tests/ so the wheel carries none of them (tests/test_wheel.py checks it). From the
repository root, `python -m tests.doubles.fakeapis eia --port 0` starts a fake API for the offline
walkthroughs (examples/recordings/README.md); docs/seatunnel.md describes the SeaTunnel fakes.
"""
