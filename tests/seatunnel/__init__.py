"""Tests of the SeaTunnel config side (reader, conformance, render)."""
