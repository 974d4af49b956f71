"""Algorithms an algorithm_update Replay runs over each series before staging (docs/replay.md, "Algorithms")."""

from aurumplan.algorithms.base import Algorithm, AlgorithmFileError, UnknownAlgorithm, from_file, resolve

__all__ = ["Algorithm", "AlgorithmFileError", "UnknownAlgorithm", "from_file", "resolve"]
