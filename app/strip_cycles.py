"""Strips that die as soon as they are dropped, not at the next full garbage collection.

Textual's `Strip.divide` (8.2) caches its result in the strip itself; dividing a line at its
own length (what the compositor does for every widget line nothing overlaps) gives `[self]`,
so the strip holds a list holding the strip. Reference counting can never free such a
strip, its segments, nor its seven small caches: they wait for a full collection. With six
busy lanes that was 3,000-5,000 strips and 25,000 caches a collection (measured by
`tests/benchmarks/bench_load_repo.py`; a full collection took 15-25 ms, most of it freeing
them). Answering that one case without the cache keeps every strip acyclic.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from textual.strip import Strip

_textual_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cell_length = self.cell_length
    kept = [cut for cut in cuts if cut <= cell_length]  # what Textual's divide keeps
    if len(kept) == 1 and kept[0] == cell_length:
        return [self]  # what Textual returns here too, without keeping it in `self`
    return _textual_divide(self, kept)


def keep_strips_acyclic() -> None:
    """Install the divide above on Textual's Strip (once; later calls change nothing)."""
    if Strip.divide is _textual_divide:
        Strip.divide = _divide  # type: ignore[method-assign]
