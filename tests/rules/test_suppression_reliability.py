"""Bad-input pass: 1,000 attempts to call suppressed numbers mixed into normal traffic place none.

Real HTTP over loopback to the live server, the sandbox provider behind it. The attempts come in
every spelling and by two paths: immediate API calls (409) and scheduled calls whose number was
suppressed after they were created (canceled at dial time by the worker).
"""

import json
import random
import urllib.error
import urllib.request

import pytest
from django.utils import timezone

from callops.accounts import services as accounts
from callops.calls import services
from callops.calls.jobs import enqueue_placements
from callops.calls.models import Call, CallStatus
from callops.providers import sandbox
from callops.rules import suppressions

pytestmark = pytest.mark.django_db(transaction=True)

SUPPRESSED = [f"+1202555{i:04d}" for i in range(100, 150)]  # 50 numbers on the list
NORMAL = [f"+1415555{i:04d}" for i in range(100, 150)]


def _spell(number: str, rng: random.Random) -> str:
    n = number[2:]
    return rng.choice([number, f"+1 ({n[:3]}) {n[3:6]}-{n[6:]}", f"+1.{n[:3]}.{n[3:6]}.{n[6:]}", f"+1 {n}"])


def _post(url: str, secret: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/v1/calls", data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_no_call_reaches_the_provider_for_a_suppressed_number(personas, sandbox_agent, live_server, monkeypatch,
                                                               short_db_connections, run_jobs):
    dialed: list[str] = []
    real = sandbox.Adapter.place_call
    monkeypatch.setattr(sandbox.Adapter, "place_call", lambda self, call: (dialed.append(call.to_number),
                                                                           real(self, call))[1])
    _, secret = accounts.create_api_key(personas.org, "reliability")
    # 300 scheduled calls created while their numbers were still callable.
    rng = random.Random(22)
    later = [services.create_call(org=personas.org, agent=sandbox_agent, to_number=rng.choice(SUPPRESSED),
                                  scheduled_at=timezone.now()) for _ in range(300)]
    for number in SUPPRESSED:
        suppressions.add(personas.org, number, reason="reliability pass")

    attempts, normal, refused = 300, 0, 0
    traffic = [("bad", n) for n in rng.choices(SUPPRESSED, k=700)] + [("ok", n) for n in rng.choices(NORMAL, k=200)]
    rng.shuffle(traffic)
    for kind, number in traffic:
        status, body = _post(live_server.url, secret, {"agent_id": str(sandbox_agent.public_id),
                                                       "to": _spell(number, rng)})
        if kind == "bad":
            attempts += 1
            assert status == 409, body
            assert body == {"error": f"{number} is on the suppression list (reliability pass)"}
            refused += 1
        else:
            assert status == 201, body
            normal += 1
    enqueue_placements([c.pk for c in later])
    run_jobs()

    placed_to_suppressed = [n for n in dialed if n in set(SUPPRESSED)]
    print(f"\nsuppressed attempts: {attempts}; placed to suppressed numbers: {len(placed_to_suppressed)}; "
          f"normal calls placed: {normal}")
    assert attempts == 1000 and refused == 700 and normal == 200
    assert placed_to_suppressed == []
    assert Call.objects.filter(to_number__in=SUPPRESSED).exclude(provider_call_id="").count() == 0
    assert Call.objects.filter(pk__in=[c.pk for c in later], status=CallStatus.CANCELED,
                               error_code="suppressed").count() == 300
    assert sorted(set(dialed)) == sorted({n for k, n in traffic if k == "ok"})
