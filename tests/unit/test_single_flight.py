"""The merged-grid memo: bounded by the bytes it keeps, least recently used out; failures not kept."""

from __future__ import annotations

import pytest

from domain.generation.single_flight import SingleFlightCache


def sized_cache(max_bytes: int) -> tuple[SingleFlightCache[str, bytes], list[str]]:
    built: list[str] = []
    cache: SingleFlightCache[str, bytes] = SingleFlightCache(
        max_bytes=max_bytes, size_of=lambda key, value: len(key) + len(value)
    )
    return cache, built


def get(cache: SingleFlightCache[str, bytes], built: list[str], key: str, size: int = 9) -> bytes:
    def build() -> bytes:
        built.append(key)
        return b"x" * size

    return cache.get(key, build)


def test_kept_results_are_bounded_by_bytes_least_recently_used_out() -> None:
    cache, built = sized_cache(max_bytes=20)  # two entries of 1 + 9 bytes
    for key in "abac":  # "a" used again, so "b" is the one to go when "c" arrives
        get(cache, built, key)
    get(cache, built, "a")
    get(cache, built, "b")
    assert built == ["a", "b", "c", "b"]


def test_a_result_larger_than_the_bound_is_returned_but_not_kept() -> None:
    cache, built = sized_cache(max_bytes=20)
    assert get(cache, built, "a", size=30) == b"x" * 30
    get(cache, built, "a", size=30)
    assert built == ["a", "a"]


def test_a_failed_build_raises_and_is_built_again_next_time() -> None:
    cache, built = sized_cache(max_bytes=20)

    def failing() -> bytes:
        built.append("a")
        raise ValueError("unreadable")

    with pytest.raises(ValueError):
        cache.get("a", failing)
    assert get(cache, built, "a") == b"x" * 9
    assert built == ["a", "a"]
