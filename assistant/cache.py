"""One small cache for computed vectors: least recently used out first, safe across threads.

The computing happens outside the lock, in one batch for the keys not held, so a slow
embedding never blocks readers of what is already cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Sequence[K], compute: Callable[[list[K]], Sequence[V]]) -> list[V]:
        """The values of `keys`, computing the missing ones with one call of `compute`."""
        with self._lock:
            todo = [k for k in dict.fromkeys(keys) if k not in self._items]
        fresh = dict(zip(todo, compute(todo) if todo else [], strict=True))
        with self._lock:
            self._items.update(fresh)
            out = []
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                out.append(self._items.get(key, fresh.get(key)))  # (evicted by another thread)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return out  # type: ignore[return-value]

    def get(self, key: K, compute: Callable[[K], V]) -> V:
        return self.get_many([key], lambda keys: [compute(k) for k in keys])[0]
