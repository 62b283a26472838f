"""Browser tests: Debian's chromium driven by Playwright against pytest-django's live server.

A background thread plays the worker and the sweeper (every sweep in settings.SWEEPS, then a burst
of a real RQ worker, tests.helpers.ThreadTestWorker), so sandbox calls progress exactly as in
production. The browser runs in real time (the page polls on its own timers), so these tests wait
on what the page shows, with Playwright's bounds or tests.helpers.wait_for as a safety net.
"""

import os
import threading
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests-only-123"


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    from playwright.sync_api import expect, sync_playwright

    # Bounds are safety nets, not claims about speed: a page on a busy 2-core machine may take a
    # while to show what it will show. (Playwright's own default is 5 s.)
    expect.set_options(timeout=30_000)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context at laptop width; fails the test on any CSP violation or JS error."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, timezone_id="America/New_York",
                                   accept_downloads=True)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    problems = []
    # A form re-rendered with its errors answers 400 on purpose; anything else logged as an
    # error (a CSP violation above all) fails the test. A test that opens an error page on
    # purpose adds its status to `page.expected_statuses`.
    pg.expected_statuses = {400}
    pg.on("console", lambda msg: problems.append(msg.text)
          if msg.type == "error" and not any(f"status of {code}" in msg.text for code in pg.expected_statuses)
          else None)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.base_url = live_server.url
    yield pg
    context.close()
    assert problems == [], problems


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page, username):
    page.goto(page.base_url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(page.base_url + "/")


class BackgroundWorker:
    """Runs every sweep, then the queued jobs, in a loop until stopped."""

    def __init__(self, interval=0.2):
        self.interval = interval
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._loop, name="test-worker", daemon=True)

    def _loop(self):
        import django_rq
        from django.conf import settings
        from django.db import connections
        from django.utils.module_loading import import_string

        from tests.helpers import ThreadTestWorker

        sweeps = [import_string(path) for path in settings.SWEEPS]
        conn = django_rq.get_connection("default")
        queues = [django_rq.get_queue(name) for name in settings.QUEUE_NAMES]
        try:
            while not self.stop.is_set():
                for sweep in sweeps:
                    try:
                        sweep()
                    except Exception as exc:  # keep going, report at the end
                        self.errors.append(f"{sweep.__name__}: {exc!r}")
                if any(q.count for q in queues):
                    ThreadTestWorker(queues, connection=conn).work(burst=True, with_scheduler=False)
                self.stop.wait(self.interval)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture
def worker(transactional_db):
    with BackgroundWorker() as w:
        yield w
    assert w.errors == [], w.errors


@pytest.fixture
def make_call_db(sandbox_agent):
    """A call in a given state, made through the lifecycle service (no worker needed)."""
    from callops.calls import services
    from callops.calls.models import CallStatus, EventSource

    path = {
        CallStatus.COMPLETED: ["initiated", "ringing", "in_progress", "completed"],
        CallStatus.FAILED: ["initiated", "failed"],
        CallStatus.RINGING: ["initiated", "ringing"],
    }

    def _make(status, *, to):
        call = services.create_call(org=sandbox_agent.organization, agent=sandbox_agent, to_number=to,
                                    source=EventSource.API)
        for step in path[status]:
            fields = {"error_code": "invalid_number", "error_message": "the destination number is not in service"} \
                if step == "failed" else None
            services.apply_status(call, step, source=EventSource.POLL, raw_status=step, fields=fields,
                                  reason="unallocated number" if step == "failed" else "",
                                  payload={"status": step, "call_id": "prov-123"})
        call.refresh_from_db()
        return call

    return _make
