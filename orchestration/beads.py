"""Beads stores: the JSONL file and the bd CLI behind one interface (work in progress)."""

from __future__ import annotations

from .beads_jsonl import load_jsonl

__all__ = ["load_jsonl"]
