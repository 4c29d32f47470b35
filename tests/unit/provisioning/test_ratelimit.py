"""The shared Zoom rate limiter, on SQLite and PostgreSQL, with a clock the test moves."""

import itertools
import threading

from bot.db.migrate import upgrade_to_head
from bot.db.session import make_engine, make_session_factory
from bot.provisioning.ratelimit import SharedRateLimiter


class FakeClock:
    """time.time and time.sleep for the limiter: sleeping moves the clock, nothing waits."""

    def __init__(self, start=1_000_000.0):
        self.now = start
        self.lock = threading.Lock()

    def time(self):
        with self.lock:
            return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


def limiter_on(database_url, clock, rate_per_second=10.0):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    limiter = SharedRateLimiter(
        sessions, rate_per_second=rate_per_second, clock=clock.time, sleep=clock.sleep
    )
    return limiter, engine


def test_callers_at_the_same_moment_get_slots_one_interval_apart(database_url):
    _first, engine = limiter_on(database_url, FakeClock())
    frozen = FakeClock()  # a clock that never moves: every caller arrives at the same instant
    same_instant = SharedRateLimiter(
        make_session_factory(engine), rate_per_second=10.0, clock=frozen.time, sleep=lambda _: None
    )

    waits = [same_instant.acquire() for _ in range(5)]

    assert [round(wait, 6) for wait in waits] == [0.0, 0.1, 0.2, 0.3, 0.4]
    engine.dispose()


def test_two_limiters_on_one_database_share_the_slots(database_url):
    clock = FakeClock()
    first, engine = limiter_on(database_url, clock)
    second = SharedRateLimiter(
        make_session_factory(engine), rate_per_second=10.0, clock=clock.time, sleep=clock.sleep
    )
    starts = []

    for limiter in (first, second, first, second):
        limiter.acquire()
        starts.append(clock.time())

    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(starts)]
    assert gaps == [0.1, 0.1, 0.1]
    engine.dispose()


def test_an_idle_limiter_lets_the_next_call_go_at_once(database_url):
    clock = FakeClock()
    limiter, engine = limiter_on(database_url, clock)
    limiter.acquire()
    clock.sleep(5.0)

    assert limiter.acquire() == 0.0
    engine.dispose()
