"""The hidden rename limiter (sliding window) and the header buckets (fixed window), on a manual clock."""

from __future__ import annotations

import pytest

from src.sandbox.ratelimit import BucketRegistry, BucketSpec, SlidingWindowLimiter
from tests.clock import ManualClock

SPEC = BucketSpec("PATCH /channels/{channel_id}", 10, 10.0)


def renames(clock: ManualClock, time_scale: float = 1.0) -> SlidingWindowLimiter:
    """Discord's hidden limit: 2 per 600 s."""
    return SlidingWindowLimiter(clock, limit=2, window=600.0, time_scale=time_scale)


def test_two_renames_are_allowed(clock: ManualClock) -> None:
    """The first two edits in a window pass."""
    limiter = renames(clock)
    assert limiter.acquire("chan") == 0.0
    assert limiter.acquire("chan") == 0.0


async def test_third_rename_is_refused_until_the_oldest_leaves(clock: ManualClock) -> None:
    """The third edit waits for the oldest edit to leave the 600 s window."""
    limiter = renames(clock)
    limiter.acquire("chan")
    await clock.advance(100)
    limiter.acquire("chan")
    await clock.advance(50)
    assert limiter.acquire("chan") == pytest.approx(450.0)


async def test_refused_rename_is_not_counted(clock: ManualClock) -> None:
    """A refused edit does not push the window further out."""
    limiter = renames(clock)
    limiter.acquire("chan")
    limiter.acquire("chan")
    limiter.acquire("chan")
    assert limiter.count("chan") == 2


async def test_rename_allowed_again_after_the_window(clock: ManualClock) -> None:
    """Exactly 600 s after the oldest edit, an edit passes again."""
    limiter = renames(clock)
    limiter.acquire("chan")
    limiter.acquire("chan")
    await clock.advance(600)
    assert limiter.acquire("chan") == 0.0


async def test_sliding_window_uses_the_second_oldest_next(clock: ManualClock) -> None:
    """After the oldest leaves, the next wait is measured from the edit after it."""
    limiter = renames(clock)
    limiter.acquire("chan")
    await clock.advance(300)
    limiter.acquire("chan")
    await clock.advance(300)
    limiter.acquire("chan")
    assert limiter.retry_after("chan") == pytest.approx(300.0)


def test_channels_are_limited_independently(clock: ManualClock) -> None:
    """Each channel has its own two edits."""
    limiter = renames(clock)
    limiter.acquire("a")
    limiter.acquire("a")
    assert limiter.acquire("b") == 0.0


async def test_time_scale_divides_the_window(clock: ManualClock) -> None:
    """With time_scale 60 the window is 10 real seconds and retry_after is real seconds."""
    limiter = renames(clock, time_scale=60.0)
    limiter.acquire("chan")
    limiter.acquire("chan")
    assert limiter.retry_after("chan") == pytest.approx(10.0)
    await clock.advance(10)
    assert limiter.acquire("chan") == 0.0


def test_bucket_counts_down_remaining(clock: ManualClock) -> None:
    """Each request lowers X-RateLimit-Remaining by one."""
    buckets = BucketRegistry(clock)
    assert [buckets.take(SPEC, "1").remaining for _ in range(3)] == [9, 8, 7]


def test_bucket_refuses_when_exhausted(clock: ManualClock) -> None:
    """The eleventh request in the window is refused with the time left as retry_after."""
    buckets = BucketRegistry(clock)
    for _ in range(10):
        assert buckets.take(SPEC, "1").allowed
    verdict = buckets.take(SPEC, "1")
    assert not verdict.allowed
    assert verdict.retry_after == pytest.approx(10.0)


async def test_bucket_resets_after_window(clock: ManualClock) -> None:
    """After the window the bucket is full again."""
    buckets = BucketRegistry(clock)
    for _ in range(10):
        buckets.take(SPEC, "1")
    await clock.advance(10)
    assert buckets.take(SPEC, "1").remaining == 9


def test_bucket_is_per_major_parameter(clock: ManualClock) -> None:
    """Another channel has its own bucket."""
    buckets = BucketRegistry(clock)
    for _ in range(10):
        buckets.take(SPEC, "1")
    assert buckets.take(SPEC, "2").allowed


async def test_bucket_reset_after_counts_down(clock: ManualClock) -> None:
    """Reset-After shrinks as the window runs."""
    buckets = BucketRegistry(clock)
    buckets.take(SPEC, "1")
    await clock.advance(4)
    assert buckets.take(SPEC, "1").reset_after == pytest.approx(6.0)


def test_bucket_time_scale_divides_window(clock: ManualClock) -> None:
    """With time_scale 10 a 10 s bucket resets after one real second."""
    buckets = BucketRegistry(clock, time_scale=10.0)
    assert buckets.take(SPEC, "1").reset_after == pytest.approx(1.0)


def test_bucket_hash_is_stable() -> None:
    """The bucket id reported in X-RateLimit-Bucket depends only on the route."""
    assert SPEC.bucket_hash == BucketSpec("PATCH /channels/{channel_id}", 10, 10.0).bucket_hash
    assert len(SPEC.bucket_hash) == 32
