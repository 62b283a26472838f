"""Shared fixtures: personas at the tenant boundary, API clients, and a real RQ worker.

Personas: owner, admin, member and viewer of organization "Acme", and an outsider who owns
organization "Globex". Every view and API route is tested with them.
"""

import json
import os
from dataclasses import dataclass

import django_rq
import pytest
from django.test import Client

from callops.accounts import services as accounts
from callops.accounts.models import Role


def pytest_collection_modifyitems(config, items):
    """Long tests (marked `slow`) run first. pytest-xdist hands tests out in this order, so each
    worker starts on a long one at once and the short ones fill in around them; in collection order
    a chaos test could start last and run alone while the other workers sat idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config):
    """Under pytest-xdist each worker gets a Redis database of its own (tests flush it freely).

    Worker gwN uses database N of the run's private redis-server (`make test`), or, with REDIS_URL
    given (CI), REDIS_URL's database minus N: CI's default 15 and the bench's 14 are the two a
    `-n 2` run uses. Its test database is pytest-django's own per worker.
    """
    workerinput = getattr(config, "workerinput", None)  # set in xdist worker processes only
    if workerinput is None:
        return
    from django.conf import settings

    url = worker_redis_url(settings.REDIS_URL, int(workerinput["workerid"].removeprefix("gw")),
                           private=os.environ.get("CALLOPS_TEST_PRIVATE_REDIS") == "1")
    settings.REDIS_URL = os.environ["REDIS_URL"] = url  # subprocesses started by tests inherit it
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url
    settings.CACHES["default"]["LOCATION"] = url


def worker_redis_url(url: str, n: int, *, private: bool) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = n if private else base - n
    if not 0 <= db <= 15:
        raise pytest.UsageError(f"no Redis database {db} for xdist worker gw{n} (REDIS_URL {url}): "
                                "use fewer workers or a higher database number")
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Loopback sinks and emulators are the only servers tests talk to.
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.0/8", "::1/128", "localhost"]
    settings.SANDBOX_SPEED = 50.0
    settings.API_RATE_LIMIT_PER_MINUTE = 100000
    # Personas log in with passwords; the production hasher would cost seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with empty queues and no rate-limit counters."""
    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield


@dataclass
class Persona:
    user: object
    org: object
    role: str
    password: str = "pw-for-tests-only-123"

    def client(self) -> Client:
        c = Client()
        c.force_login(self.user)
        return c


@dataclass
class Personas:
    org: object
    other_org: object
    owner: Persona
    admin: Persona
    member: Persona
    viewer: Persona
    outsider: Persona

    def all(self):
        return [self.owner, self.admin, self.member, self.viewer, self.outsider]


@pytest.fixture
def short_db_connections():
    """Live-server request threads close their database connection after each request, so no
    session outlives the test (PostgreSQL refuses to drop a test database still in use)."""
    from django.db import connections

    conf = connections.settings["default"]
    old = conf.get("CONN_MAX_AGE", 0)
    conf["CONN_MAX_AGE"] = 0
    yield
    conf["CONN_MAX_AGE"] = old


@pytest.fixture
def personas(db) -> Personas:
    org = accounts.create_organization("Acme")
    other = accounts.create_organization("Globex")
    people = {}
    for role in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER):
        user = accounts.ensure_user(f"{role}@acme.test", "pw-for-tests-only-123")
        accounts.add_member(org, user, role)
        people[str(role)] = Persona(user, org, role)
    outsider = accounts.ensure_user("outsider@globex.test", "pw-for-tests-only-123")
    accounts.add_member(other, outsider, Role.OWNER)
    return Personas(org, other, people["owner"], people["admin"], people["member"], people["viewer"],
                    Persona(outsider, other, Role.OWNER))


class ApiClient:
    """A test client that sends a Bearer key and JSON bodies."""

    def __init__(self, secret: str | None):
        self.secret = secret
        self.client = Client()

    def _headers(self, extra):
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        headers.update(extra or {})
        return headers

    def get(self, path, params=None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path, body=None, headers=None):
        return self.client.post(path, json.dumps(body if body is not None else {}), content_type="application/json",
                                headers=self._headers(headers))

    def patch(self, path, body=None, headers=None):
        return self.client.patch(path, json.dumps(body or {}), content_type="application/json",
                                 headers=self._headers(headers))

    def delete(self, path, headers=None):
        return self.client.delete(path, headers=self._headers(headers))


@pytest.fixture
def api(personas) -> ApiClient:
    """A read-write key of Acme."""
    _, secret = accounts.create_api_key(personas.org, "tests")
    return ApiClient(secret)


@pytest.fixture
def api_readonly(personas) -> ApiClient:
    _, secret = accounts.create_api_key(personas.org, "tests-ro", scope="ro")
    return ApiClient(secret)


@pytest.fixture
def api_outsider(personas) -> ApiClient:
    _, secret = accounts.create_api_key(personas.other_org, "globex")
    return ApiClient(secret)


@pytest.fixture
def sandbox_agent(personas):
    """A sandbox provider account and agent in Acme."""
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    account = ProviderAccount.objects.create(organization=personas.org, kind="sandbox", name="Sandbox")
    return Agent.objects.create(organization=personas.org, provider_account=account, name="Sandbox agent",
                                instructions="Confirm the appointment.")


def flush_on_commit() -> int:
    """Run on_commit callbacks registered inside the test's wrapping transaction.

    Under pytest-django's default (non-transactional) tests the transaction never commits, so
    work deferred to commit (django-rq's enqueue, webhook dispatch) would never start. This runs
    it as a commit would. In transactional tests the list is always empty.
    """
    from django.db import connection

    ran = 0
    while connection.run_on_commit:
        callbacks, connection.run_on_commit[:] = connection.run_on_commit[:], []
        for _sids, func, _robust in callbacks:
            func()
            ran += 1
    return ran


@pytest.fixture
def run_jobs():
    """Run every queued job to completion in-process with a real RQ worker (burst), synchronously.

    Loops because jobs enqueue more jobs; commit-deferred enqueues are flushed first. The worker
    is tests.helpers.TestWorker: RQ's SimpleWorker without the pubsub thread whose teardown could
    stall a round for up to a minute.
    """
    from django.conf import settings

    from tests.helpers import TestWorker

    def _run(max_rounds: int = 50):
        conn = django_rq.get_connection("default")
        queues = [django_rq.get_queue(name) for name in settings.QUEUE_NAMES]
        for _ in range(max_rounds):
            flushed = flush_on_commit()
            if not flushed and not any(q.count for q in queues):
                return
            TestWorker(queues, connection=conn).work(burst=True, with_scheduler=False)

    return _run


# A Tuesday, 10:00 in New York: inside every default calling window of the batch tests.
FROZEN_AT = "2026-03-10T15:00:00+00:00"


@pytest.fixture
def clock():
    """Freeze time at FROZEN_AT; the test moves it with `clock.advance(seconds)` (tests/helpers.py).

    Patches time.time() and datetime.now() for the whole process, emulator threads included;
    time.monotonic() and time.sleep() stay real.
    """
    import time_machine

    from tests import helpers

    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        helpers._current = helpers.Clock(traveller)
        try:
            yield helpers._current
        finally:
            helpers._current = None


@pytest.fixture
def sink():
    """A loopback HTTP server with programmable replies (tests/lib/sink.py), closed after the test."""
    from tests.lib.sink import Sink

    s = Sink()
    yield s
    s.close()


# --- Calls, failures and failing webhook deliveries (dashboard, triage and calls tests) ----------------
# Built through the lifecycle services, so timelines and webhook deliveries are real. Two fixtures
# are shadowed in their own directories by fixtures of the same name that build something else:
# tests/webhooks/conftest.py `make_call` (a queued call with a webhook URL) and `endpoint` (a sink),
# and tests/extraction/test_services.py `make_call`.


@pytest.fixture
def make_call(sandbox_agent):
    """A call in `status`, moved there through apply_status so its timeline is real."""
    from datetime import timedelta

    from django.utils import timezone

    from callops.calls import services
    from callops.calls.models import Call, CallStatus, EventSource

    # The steps from queued to each status: one timeline event per step.
    path = {
        CallStatus.QUEUED: [],
        CallStatus.RINGING: [CallStatus.INITIATED, CallStatus.RINGING],
        CallStatus.IN_PROGRESS: [CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS],
        CallStatus.COMPLETED: [CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.COMPLETED],
        CallStatus.FAILED: [CallStatus.INITIATED, CallStatus.FAILED],
        CallStatus.NO_ANSWER: [CallStatus.INITIATED, CallStatus.RINGING, CallStatus.NO_ANSWER],
    }

    def _make(status=CallStatus.COMPLETED, *, to="+14155550123", agent=None, age=timedelta(0), **fields):
        agent = agent or sandbox_agent
        call = services.create_call(org=agent.organization, agent=agent, to_number=to, source=EventSource.API)
        for step in path[status]:
            services.apply_status(call, step, source=EventSource.POLL, raw_status=f"raw-{step}",
                                  payload={"status": f"raw-{step}", "id": "prov-1"})
        extra = dict(fields)
        if age:
            extra["created_at"] = timezone.now() - age
        if extra:
            Call.objects.filter(pk=call.pk).update(**extra)
        return Call.objects.get(pk=call.pk)

    return _make


@pytest.fixture
def outsider_agent(personas):
    """A sandbox agent of Globex, the outsider's organization."""
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    account = ProviderAccount.objects.create(organization=personas.other_org, kind="sandbox", name="Sandbox")
    return Agent.objects.create(organization=personas.other_org, provider_account=account, name="Globex agent")


@pytest.fixture
def failed_call(sandbox_agent):
    """A call failed with a given error code `ago` before now, through the lifecycle service."""
    from datetime import timedelta

    from django.utils import timezone

    from callops.calls import services
    from callops.calls.models import Call, CallStatus, EventSource

    def _make(error_code="balance_low", *, to="+12025550105", status=CallStatus.FAILED, hangup="", reason="",
              ago=timedelta(minutes=5), agent=None):
        agent = agent or sandbox_agent
        call = services.create_call(org=agent.organization, agent=agent, to_number=to, source=EventSource.API)
        fields = {"error_code": error_code, "error_message": f"{error_code} happened" if error_code else "",
                  "hangup_cause": hangup}
        services.apply_status(call, status, source=EventSource.POLL, raw_status=status, reason=reason,
                              fields={k: v for k, v in fields.items() if v})
        when = timezone.now() - ago
        Call.objects.filter(pk=call.pk).update(ended_at=when, created_at=when - timedelta(seconds=30))
        return Call.objects.get(pk=call.pk)

    return _make


@pytest.fixture
def unreachable_endpoint(personas):
    """An Acme webhook endpoint on a closed loopback port, with a custom header carrying a token."""
    from callops.webhooks import services as webhooks

    ep, secret = webhooks.create_endpoint(personas.org, {"url": "http://127.0.0.1:9/hook",
                                                         "headers": {"X-Receiver-Token": "hdr-secret-value-123"}})
    ep.test_secret = secret
    return ep


@pytest.fixture
def failing_delivery(personas, unreachable_endpoint, sandbox_agent):
    """A delivery to `unreachable_endpoint` whose attempt failed with the given kind/status (rows
    written directly)."""
    from datetime import timedelta

    from django.utils import timezone

    from callops.calls import services
    from callops.calls.models import EventSource
    from callops.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

    def _make(kind="http", status=503, *, delivery_status=DeliveryStatus.FAILED, ago=timedelta(minutes=5)):
        call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550123",
                                    source=EventSource.API)
        delivery = WebhookDelivery.objects.filter(call=call, endpoint=unreachable_endpoint).first()
        when = timezone.now() - ago
        error = f"HTTP {status}" if kind == "http" else f"{kind}: it broke"
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=delivery_status, attempt_count=1, last_error=error, last_response_status=status,
            next_attempt_at=None, created_at=when)
        WebhookAttempt.objects.create(delivery=delivery, number=1, url=delivery.url, request_body='{"x":1}',
                                      request_headers={"content-type": "application/json",
                                                       "X-Receiver-Token": "hdr-secret-value-123"},
                                      response_status=status if kind == "http" else None, duration_ms=42,
                                      error_kind=kind, error=error, created_at=when)
        delivery.refresh_from_db()
        return delivery

    return _make
# --- end of the calls and failures block -------------------------------------------------------------
