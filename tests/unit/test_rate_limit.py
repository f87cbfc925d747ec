"""SlidingWindowLimiter, driven by a clock the test moves (no sleeping, no timing)."""

from __future__ import annotations

from token_service.rate_limit import SlidingWindowLimiter


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_when_to_retry() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, window_seconds=60, monotonic=clock)
    assert [limiter.acquire("alice") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("alice") == 60
    clock.now += 20.5
    assert limiter.acquire("alice") == 40  # ceil(1000 + 60 - 1020.5) = 40


def test_refused_calls_do_not_count() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, window_seconds=60, monotonic=clock)
    assert limiter.acquire("alice") is None
    for _ in range(10):
        clock.now += 1
        assert limiter.acquire("alice") is not None
    clock.now = 1060.0  # the only counted hit (at 1000) has left the window
    assert limiter.acquire("alice") is None


def test_the_window_slides_hit_by_hit() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, window_seconds=10, monotonic=clock)
    assert limiter.acquire("u") is None  # t=1000
    clock.now = 1004.0
    assert limiter.acquire("u") is None  # t=1004
    clock.now = 1009.0
    assert limiter.acquire("u") == 1  # the first hit leaves at 1010
    clock.now = 1010.0
    assert limiter.acquire("u") is None  # it left; now 1004 and 1010 count
    assert limiter.acquire("u") == 4  # until 1004 leaves at 1014


def test_retry_after_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, window_seconds=60, monotonic=clock)
    limiter.acquire("u")
    clock.now += 59.9
    assert limiter.acquire("u") == 1


def test_users_are_counted_apart() -> None:
    limiter = SlidingWindowLimiter(1, window_seconds=60, monotonic=Clock())
    assert limiter.acquire("alice") is None
    assert limiter.acquire("bob") is None
    assert limiter.acquire("alice") is not None and limiter.acquire("bob") is not None


def test_many_idle_users_do_not_reset_an_active_one() -> None:
    """Past 10,000 tracked users the idle ones are forgotten; a user still inside the window is not."""
    clock = Clock()
    limiter = SlidingWindowLimiter(1, window_seconds=60, monotonic=clock)
    for index in range(10_001):
        assert limiter.acquire(f"idle-{index}") is None
    clock.now += 61
    assert limiter.acquire("active") is None
    assert limiter.acquire("new-user") is None  # tracked users exceed 10,000: idle ones are dropped
    assert limiter.acquire("active") == 60
    assert limiter.acquire("idle-0") is None  # its hit left the window long ago
