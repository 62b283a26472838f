"""The benchmark's comparison views (bench/views.py): routed only by the benchmarks' own urlconf,
never by the product's, and the creation floor does only what it says (one call row, nothing else)."""

import json

import pytest
from django.test import RequestFactory, override_settings

from bench import views as bench_views
from callops.calls.models import Call, CallEvent
from callops.webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_benchmark_views_are_not_routed_by_default(api):
    for path in ("/bench/baseline", "/bench/create-floor", "/bench/bare"):
        assert api.post(path, {"to": "+14155550123"}).status_code == 404


def test_the_benchmarks_urlconf_routes_them_beside_the_product(api):
    from django.conf import settings

    import bench.settings

    assert bench.settings.ROOT_URLCONF == "bench.urls" and settings.ROOT_URLCONF == "callops.urls"
    with override_settings(ROOT_URLCONF="bench.urls"):
        assert api.post("/bench/baseline", {"n": 1}).json() == {"ok": True, "echo": {"n": 1}}
        assert api.get("/v1/calls").status_code == 200


def test_creation_floor_writes_the_call_row_and_nothing_else(api, sandbox_agent):
    body = json.dumps({"agent_id": str(sandbox_agent.public_id), "to": "+1 415 555 0123"})
    request = RequestFactory().post("/bench/create-floor", body, content_type="application/json",
                                    headers={"Authorization": f"Bearer {api.secret}"})
    response = bench_views.create_floor(request)
    assert response.status_code == 201
    call = Call.objects.get(public_id=json.loads(response.content)["id"])
    assert call.to_number == "+14155550123" and call.organization_id == sandbox_agent.organization_id
    assert not CallEvent.objects.filter(call=call).exists() and not WebhookEvent.objects.exists()
    bad = RequestFactory().post("/bench/create-floor", body, content_type="application/json",
                                headers={"Authorization": "Bearer nope"})
    assert bench_views.create_floor(bad).status_code == 401 and Call.objects.count() == 1


def test_the_bare_view_answers_the_load_mix_from_memory(api, django_assert_num_queries):
    with override_settings(ROOT_URLCONF="bench.urls"), django_assert_num_queries(0):
        created = api.post("/bench/bare", {"agent_id": "x", "to": "+14155550123"})
        read = api.get(f"/bench/bare/{created.json()['id']}")
        listed = api.get("/bench/bare", {"limit": 20})
    assert created.status_code == 201 and created.json()["status"] == "queued"
    assert read.status_code == 200 and read.json() == {"id": created.json()["id"], "status": "queued"}
    assert listed.status_code == 200 and listed.json() == {"data": [], "has_more": False, "limit": 20}
