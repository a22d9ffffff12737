"""Id sets that are mostly one seeded range: a million members cost a few integers, not a million dicts."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from itertools import islice
from typing import Generic, TypeVar

T = TypeVar("T")


class SparseIdSet(Generic[T]):
    """Ids `start..start+count` (the seeded part), plus explicitly added ids with a value, minus removed ones.

    Invariant: `_removed` only holds seeded ids; a seeded id that was removed and added again sits in both
    `_removed` and `_added`, so it is counted and listed exactly once.
    """

    def __init__(self, start: int, count: int) -> None:
        self._start = start
        self._stop = start + max(0, count)
        self._removed: set[int] = set()
        self._added: dict[int, T] = {}
        self._added_sorted: list[int] = []

    def __len__(self) -> int:
        """Return the exact number of ids in the set."""
        return (self._stop - self._start) - len(self._removed) + len(self._added)

    def __contains__(self, item: object) -> bool:
        """Tell whether `item` is currently in the set."""
        if not isinstance(item, int):
            return False
        return item in self._added or (self.in_seeded_range(item) and item not in self._removed)

    def in_seeded_range(self, item_id: int) -> bool:
        """Tell whether `item_id` falls in the seeded range (whether or not it is still present)."""
        return self._start <= item_id < self._stop

    def seeded_index(self, item_id: int) -> int | None:
        """Return the position of `item_id` in the seeded range, or None outside it."""
        return item_id - self._start if self.in_seeded_range(item_id) else None

    def value(self, item_id: int) -> T | None:
        """Return the value stored with an explicitly added id (None for seeded or absent ids)."""
        return self._added.get(item_id)

    @property
    def materialised(self) -> int:
        """How many ids are stored individually (added plus removed), i.e. the memory actually used."""
        return len(self._added) + len(self._removed)

    def snapshot(self) -> SparseIdSet[T]:
        """An independent copy as of now, costing only the individually stored ids (not the seeded range)."""
        copy: SparseIdSet[T] = SparseIdSet(self._start, self._stop - self._start)
        copy._removed = set(self._removed)
        copy._added = dict(self._added)
        copy._added_sorted = list(self._added_sorted)
        return copy

    def add(self, item_id: int, value: T) -> bool:
        """Add `item_id` with `value`; return False if it was already present."""
        if item_id in self:
            return False
        self._added[item_id] = value
        bisect.insort(self._added_sorted, item_id)
        return True

    def discard(self, item_id: int) -> bool:
        """Remove `item_id`; return False if it was not present."""
        if item_id in self._added:
            del self._added[item_id]
            del self._added_sorted[bisect.bisect_left(self._added_sorted, item_id)]
            return True
        if self.in_seeded_range(item_id) and item_id not in self._removed:
            self._removed.add(item_id)
            return True
        return False

    def ascending(self, *, after: int | None = None, before: int | None = None) -> Iterator[int]:
        """Iterate ids strictly between `after` and `before`, smallest first."""
        low = self._start if after is None else max(self._start, after + 1)
        high = self._stop if before is None else min(self._stop, before)
        removed = self._removed
        seeded = (i for i in range(low, high) if i not in removed)
        added = self._added_sorted
        first = 0 if after is None else bisect.bisect_right(added, after)
        last = len(added) if before is None else bisect.bisect_left(added, before)
        return heapq.merge(seeded, (added[i] for i in range(first, last)))

    def descending(self, *, after: int | None = None, before: int | None = None) -> Iterator[int]:
        """Iterate ids strictly between `after` and `before`, largest first."""
        low = self._start if after is None else max(self._start, after + 1)
        high = self._stop if before is None else min(self._stop, before)
        removed = self._removed
        seeded = (i for i in range(high - 1, low - 1, -1) if i not in removed)
        added = self._added_sorted
        first = 0 if after is None else bisect.bisect_right(added, after)
        last = len(added) if before is None else bisect.bisect_left(added, before)
        return heapq.merge(seeded, (added[i] for i in range(last - 1, first - 1, -1)), reverse=True)

    def page(self, limit: int, *, after: int | None = None, before: int | None = None) -> list[int]:
        """Return up to `limit` ids in ascending order, the way Discord pages bans and members.

        With only `before`, the page is the `limit` ids closest below it (discord.py then pages on from the
        first one); otherwise it is the `limit` smallest ids after `after`.
        """
        if before is not None and after is None:
            ids = list(islice(self.descending(before=before), limit))
            ids.reverse()
            return ids
        return list(islice(self.ascending(after=after, before=before), limit))
