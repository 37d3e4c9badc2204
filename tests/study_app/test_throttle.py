"""study_app.throttle: free wrong passwords, then a doubling wait per client, a cap over all
clients, and a fresh start after the right password (a fake clock, no waiting)."""
from __future__ import annotations

from study_app.throttle import BASE_WAIT_S, FREE_FAILURES, GLOBAL_PER_MINUTE, MAX_WAIT_S, LoginThrottle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_waits_twice_as_long_after_each_wrong_password_beyond_the_free_ones():
    clock = Clock()
    t = LoginThrottle(clock)
    waits = []
    for _ in range(FREE_FAILURES + 4):
        assert t.wait_s("a") == 0
        waits.append(t.failed("a")[1])
        clock.now += waits[-1]
    assert waits == [0.0] * FREE_FAILURES + [BASE_WAIT_S * 2 ** k for k in range(4)]


def test_the_wait_is_capped_and_holds_until_it_has_passed():
    clock = Clock()
    t = LoginThrottle(clock)
    for _ in range(FREE_FAILURES + 20):
        n, wait = t.failed("a")
    assert wait == MAX_WAIT_S and n == FREE_FAILURES + 20
    clock.now += MAX_WAIT_S - 1
    assert t.wait_s("a") == 1 and t.wait_s("b") == 0       # another client is not held up by it


def test_all_clients_together_get_a_limited_number_of_wrong_passwords_a_minute():
    clock = Clock()
    t = LoginThrottle(clock)
    for k in range(GLOBAL_PER_MINUTE):
        t.failed(f"address-{k}")                            # each new address has free tries
    assert t.wait_s("yet-another-address") == 60
    clock.now += 60
    assert t.wait_s("yet-another-address") == 0


def test_a_right_password_starts_the_client_afresh():
    clock = Clock()
    t = LoginThrottle(clock)
    for _ in range(FREE_FAILURES + 1):
        t.failed("a")
    clock.now += 10
    t.succeeded("a")
    assert t.failed("a") == (1, 0.0)
