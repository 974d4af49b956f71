"""The cyclic garbage collector paused around work that allocates many objects and frees none of them
in cycles: planning (interval tuples, node dicts) and importing the library (modules, classes, pydantic
schemas). A leaf: imports nothing of ours. Measured in bench/RESULTS.md (issues 2 and 18).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Reference counting still frees everything while paused. At the end the survivors are moved
    straight to the oldest generation (freeze + unfreeze: no traversal), so the first young collection
    after the pause does not walk them all either; full collections still see them as usual. Not when
    the application froze objects itself: unfreeze would release those too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()
