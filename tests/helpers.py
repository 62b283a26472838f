"""What tests share beyond fixtures: a clock the test moves, an RQ worker without pubsub, and a
bounded wait for the few tests that need real concurrency.

Time: the `clock` fixture (tests/conftest.py) freezes `time.time()` and `datetime.now()` (so
Django's `timezone.now()`) process-wide with time-machine, for the code under test and for the
provider emulators' threads alike. A test moves it with `clock.advance(seconds)`; nothing waits
for the wall clock. `time.monotonic()` and `time.sleep()` are real: a test never depends on
either to see something happen.

Workers: RQ's worker subscribes to a pubsub channel (for `rq suspend`, `rq stop-job`) in a
thread, and its teardown joins that thread, which can block for up to the thread's 60 s read on
a busy machine. A test's burst worker takes no commands, so `TestWorker` does not subscribe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty


class TestWorker(SimpleWorker):
    """RQ's in-process worker, minus the pubsub command channel (see the module docstring)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def subscribe(self):
        pass

    def unsubscribe(self):
        pass


class ThreadTestWorker(TestWorker):
    """A TestWorker that can run in a thread other than the main one (the browser tests')."""

    # Signals can only be handled in the main thread; job timeouts use a timer instead.
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0, interval: float = 0.01):
    """Wait until `condition()` is true and return its value.

    Only for tests about real concurrency (a thread, a subprocess, an emulator's callback thread):
    the timeout is a safety net, not a claim about speed, and failing names what was awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


_current: Clock | None = None


def current_clock() -> Clock:
    """The running test's clock, for module helpers (the test must use the `clock` fixture)."""
    if _current is None:
        raise RuntimeError("this helper moves the test clock: use the `clock` fixture")
    return _current


class Clock:
    """A frozen clock the test moves (time-machine underneath)."""

    def __init__(self, traveller):
        self._traveller = traveller

    def now(self) -> datetime:
        from django.utils import timezone

        return timezone.now()

    def time(self) -> float:
        return time.time()

    def advance(self, seconds: float | timedelta) -> datetime:
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._traveller.shift(seconds)
        return self.now()

    def advance_to(self, moment: datetime) -> datetime:
        """Move to `moment` if it is in the future (never backwards)."""
        delta = (moment - self.now()).total_seconds()
        if delta > 0:
            self._traveller.shift(delta)
        return self.now()


def next_due(now: datetime) -> datetime | None:
    """The earliest moment after `now` at which a row says work is due: a call's next status read
    or scheduled placement, a batch recipient's (re)try, a webhook retry, an extraction recheck.
    Discrete-event loops jump the clock there instead of waiting for it."""
    from django.db.models import Min

    from callops.batches.models import BatchRecipient
    from callops.calls.models import Call
    from callops.extraction.models import ExtractionState
    from callops.webhooks.models import WebhookDelivery

    queries = [
        (Call.objects.filter(next_sync_at__gt=now), "next_sync_at"),
        (Call.objects.filter(status="queued", scheduled_at__gt=now), "scheduled_at"),
        (BatchRecipient.objects.filter(next_attempt_at__gt=now), "next_attempt_at"),
        (WebhookDelivery.objects.filter(next_attempt_at__gt=now), "next_attempt_at"),
        (ExtractionState.objects.filter(recheck_at__gt=now), "recheck_at"),
    ]
    found = [qs.aggregate(m=Min(field))["m"] for qs, field in queries]
    found = [moment for moment in found if moment is not None]
    return min(found) if found else None
