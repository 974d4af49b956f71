"""Graph scope vs state -> ChangeSet, every interval with its reason."""

from aurumplan.diff.engine import Action, ChangeSet, DatasetChange, SeriesChange, diff, range_fingerprint

__all__ = ["Action", "ChangeSet", "DatasetChange", "SeriesChange", "diff", "range_fingerprint"]
