from __future__ import annotations

from assistant.cache import LRUCache


def test_missing_keys_are_computed_in_one_batch_and_the_oldest_go_first() -> None:
    calls: list[list[str]] = []

    def compute(keys: list[str]) -> list[int]:
        calls.append(keys)
        return [len(k) for k in keys]

    cache: LRUCache[str, int] = LRUCache(3)
    assert cache.get_many(["a", "bb", "a"], compute) == [1, 2, 1]
    assert calls == [["a", "bb"]]  # one batch, each key once
    assert cache.get_many(["a", "ccc"], compute) == [1, 3]
    assert calls[-1] == ["ccc"]
    cache.get("dddd", len)  # "bb" is now the least recently used: it goes
    assert len(cache) == 3
    cache.get_many(["bb"], compute)
    assert calls[-1] == ["bb"]
