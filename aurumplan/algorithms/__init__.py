"""Algorithms an algorithm_update Replay runs over each series before staging (docs/replay.md, "Algorithms")."""

from aurumplan.algorithms.base import Algorithm, UnknownAlgorithm, resolve

__all__ = ["Algorithm", "UnknownAlgorithm", "resolve"]
