"""How a fake SeaTunnel job ends early: FAILED with SeaTunnel's error text, or cancelled."""


class JobFailed(Exception):
    """The job ends FAILED; the message is its errorMsg."""


class JobCancelled(Exception):
    """The job was stopped (cancel, or stop with savepoint) before it finished."""
