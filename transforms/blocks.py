"""How the linkage's per-block work is run: in turn, or spread over the flow's task runner.

The linkage cuts its heaviest work into independent blocks - a full link's date
chunks of reports, a night's (force, day) groups of narrative similarity - and
hands them to a `BlockRunner`, which returns the results in block order. The
blocks are cut the same way whatever runs them and their results are put
together in order, so every runner gives the same answer. `InTurn` runs them
one after another here; `flows/linking.py` supplies one that submits each block
as a Prefect task to the flow's task runner (threads, or a Dask cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

Block = TypeVar("Block")
Result = TypeVar("Result")


class BlockRunner(Protocol):
    """Runs a function over blocks; `width`: how many blocks to cut one piece of work into, and
    how many it runs at once at most.

    `map(function, blocks)` calls `function(block)` for each block; with `shared`,
    `function(shared, block)`: what every block reads, which a runner that sends blocks to
    other processes sends to each of them once, not with every block.
    """

    width: int

    def map(self, function: Callable[..., Result], blocks: Sequence[Block], shared: Any = None) -> list[Result]: ...


def call(function: Callable[..., Result], block: Block, shared: Any = None) -> Result:
    """`function(block)`, or `function(shared, block)` when there is something shared."""
    return function(block) if shared is None else function(shared, block)


@dataclass(frozen=True)
class InTurn:
    """Each block in turn, in this thread (tests, benchmarks, a block's own inner work)."""

    width: int = 1

    def map(self, function: Callable[..., Result], blocks: Sequence[Block], shared: Any = None) -> list[Result]:
        return [call(function, block, shared) for block in blocks]


IN_TURN = InTurn()


def balanced_slices(costs: Sequence[float] | np.ndarray, parts: int) -> list[slice]:
    """At most `parts` contiguous, non-empty slices of the items, each of about equal total cost.

    Contiguous, so results put back together in slice order keep the items' order.
    """
    weights = np.asarray(costs, dtype=np.float64)
    if weights.size == 0:
        return []
    parts = max(1, min(int(parts), weights.size))
    total = float(weights.sum())
    if parts == 1 or total <= 0:
        return [slice(0, weights.size)]
    # cut where the running cost crosses each multiple of total/parts
    bounds = np.searchsorted(np.cumsum(weights), total * np.arange(1, parts) / parts, side="left") + 1
    edges = np.unique(np.concatenate([[0], np.clip(bounds, 1, weights.size), [weights.size]]))
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
