"""Importing redis-py and the fleet's modules without the cyclic garbage collector running.

By the time a --redis run imports them, the CLI's own imports hold tens of thousands of
objects, and every collection that the new modules' allocations trigger walks the older
generations again: about a third of the import's CPU (some 25 ms of 75, measured alone; the
full collection before the run's start takes a part of it back). Nothing an import makes is
garbage to collect soon, so the collector is paused for it and resumed after, as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (if it runs), and resume it after."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()
