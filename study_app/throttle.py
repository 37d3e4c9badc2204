"""How fast wrong analyst passwords may be tried: a back-off per client and a cap over all clients.

Without it a script could try about 6 passwords a second. Now a client's first FREE_FAILURES wrong
passwords cost nothing; after that each wrong one makes the client wait twice as long as the one
before (BASE_WAIT_S, 2 x BASE_WAIT_S, ... up to MAX_WAIT_S) before its next password is even
compared, and all clients together get at most GLOBAL_PER_MINUTE wrong passwords a minute (so
changing address does not help). A right password clears its client's count. Pure Python with an
injectable clock; `ANALYST` is the one the analyst page uses (one per server process: this module
is imported once, while page files are executed afresh on every run).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

FREE_FAILURES = 3
BASE_WAIT_S = 2.0
MAX_WAIT_S = 300.0
GLOBAL_PER_MINUTE = 30


class LoginThrottle:
    """Failed password attempts per client (an address) and over all clients."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}      # client -> wrong passwords in a row
        self._until: dict[str, float] = {}       # client -> clock time of its next allowed try
        self._recent: deque[float] = deque()     # clock times of every client's failures, last minute

    def _prune(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()

    def wait_s(self, client: str) -> float:
        """Seconds before `client` may try a password (0: now)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            own = self._until.get(client, now) - now
            crowd = (self._recent[0] + 60 - now) if len(self._recent) >= GLOBAL_PER_MINUTE else 0.0
            return max(0.0, own, crowd)

    def failed(self, client: str) -> tuple[int, float]:
        """Record a wrong password from `client`: (its wrong passwords in a row, seconds to wait)."""
        with self._lock:
            now = self._clock()
            n = self._failures.get(client, 0) + 1
            self._failures[client] = n
            self._recent.append(now)
            wait = 0.0 if n <= FREE_FAILURES else min(MAX_WAIT_S, BASE_WAIT_S * 2 ** (n - FREE_FAILURES - 1))
            self._until[client] = now + wait
        return n, wait

    def succeeded(self, client: str) -> None:
        """A right password: `client` starts afresh."""
        with self._lock:
            self._failures.pop(client, None)
            self._until.pop(client, None)


ANALYST = LoginThrottle()
