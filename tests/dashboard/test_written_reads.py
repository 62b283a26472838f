"""The dashboard's written-out reads give exactly what the ORM gives, and the rows built in Python
escape what they print."""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from callops.accounts.active_org import memberships_list
from callops.accounts.backends import UserBackend
from callops.accounts.models import Membership
from callops.calls.models import Call, CallEvent, CallStatus, EventSource
from callops.dashboard import call_reads, integrations, notifications
from callops.dashboard.templatetags.dashboard import sidenav
from callops.dashboard.templatetags.timeline import payload_panel, timeline_item, transcript_turn
from callops.webhooks.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


def _fields(obj, model, skip=()):
    return {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields if f.name not in skip}


def test_call_for_page_matches_the_orm_row(personas, make_call):
    call = make_call(CallStatus.COMPLETED, transcript=[{"role": "user", "text": "hi"}], metadata={"n": [1, 2]},
                     returns={"ok": "boolean"}, result={"ok": True}, context={}, duration_seconds=42)
    page = call_reads.call_for_page(personas.org, str(call.public_id))
    orm = Call.objects.select_related("agent", "provider_account").get(pk=call.pk)
    assert _fields(page, Call) == _fields(orm, Call)
    assert page.transcript == [{"role": "user", "text": "hi"}] and page.metadata == {"n": [1, 2]}
    assert timezone.is_aware(page.created_at)
    assert page.agent.name == orm.agent.name and page.provider_account.name == orm.provider_account.name
    # Everything else of the agent loads on demand, as a deferred field would.
    assert page.agent.webhook_url == orm.agent.webhook_url


def test_call_for_page_is_a_404_outside_the_org_or_for_a_bad_id(personas, make_call):
    call = make_call()
    for org, pid in ((personas.other_org, str(call.public_id)), (personas.org, "not-a-uuid"),
                     (personas.org, "00000000-0000-0000-0000-000000000000")):
        with pytest.raises(Http404):
            call_reads.call_for_page(org, pid)


def test_timeline_matches_the_orm_events_without_payloads(make_call):
    call = make_call(CallStatus.COMPLETED)
    CallEvent.objects.create(call=call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE, note="plain note")
    orm = list(call.events.defer("payload").annotate(
        has_payload=ExpressionWrapper(Q(payload__isnull=False), output_field=BooleanField())))
    written = call_reads.timeline(call)
    assert [_fields(e, CallEvent, skip={"payload"}) for e in written] == \
        [_fields(e, CallEvent, skip={"payload"}) for e in orm]
    assert [e.has_payload for e in written] == [e.has_payload for e in orm]
    assert written[1].has_payload and not written[-1].has_payload
    assert "payload" in written[0].get_deferred_fields()


def test_memberships_list_matches_the_orm(personas):
    from callops.accounts import services as accounts

    accounts.add_member(personas.other_org, personas.owner.user, "viewer")
    expected = list(Membership.objects.filter(user=personas.owner.user).select_related("organization")
                    .order_by("organization__name"))
    got = memberships_list(personas.owner.user)
    assert [_fields(m, type(m)) for m in got] == [_fields(m, type(m)) for m in expected]
    assert [m.organization.name for m in got] == ["Acme", "Globex"]
    assert memberships_list(SimpleNamespace(is_authenticated=False)) == []


def test_user_backend_reads_the_user_and_refuses_inactive_or_unknown_ones(personas):
    user = personas.member.user
    got = UserBackend().get_user(user.pk)
    assert _fields(got, get_user_model()) == _fields(get_user_model().objects.get(pk=user.pk), get_user_model())
    assert UserBackend().get_user(987654) is None and UserBackend().get_user("x") is None
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert UserBackend().get_user(user.pk) is None
    assert personas.member.client().get(reverse("dashboard:overview")).status_code == 302  # signed out


def test_deliveries_for_lists_each_delivery_with_its_event_type_and_attempts(personas, make_call):
    call = make_call()
    event = WebhookEvent.objects.create(organization=personas.org, type="call.completed", call=call, body="{}")
    first = WebhookDelivery.objects.create(organization=personas.org, event=event, call=call, url="https://a.test/",
                                           status="failed", attempt_count=2)
    second = WebhookDelivery.objects.create(organization=personas.org, event=event, call=call, url="https://b.test/")
    for n, ok in ((1, False), (2, True)):
        WebhookAttempt.objects.create(delivery=first, number=n, url=first.url, request_body="{}", succeeded=ok,
                                      response_status=200 if ok else 500, error="" if ok else "HTTP 500",
                                      duration_ms=12)
    got = integrations.deliveries_for(call)
    assert [d["public_id"] for d in got] == [first.public_id, second.public_id]
    assert got[0]["event__type"] == "call.completed" and got[0]["attempt_count"] == 2
    assert [(a["number"], a["succeeded"], a["response_status"]) for a in got[0]["attempts"]] == \
        [(1, False, 500), (2, True, 200)]
    assert got[1]["attempts"] == [] and timezone.is_aware(got[0]["created_at"])


def test_unread_count_counts_only_this_orgs_unread_notices(personas):
    for org, read in ((personas.org, False), (personas.org, False), (personas.org, True), (personas.other_org, False)):
        Notification.objects.create(organization=org, kind="failing", message="m", read=read)
    assert notifications.unread_count(personas.org) == 2


def test_timeline_rows_escape_what_they_print():
    hostile = "<script>alert('x')</script>"
    event = SimpleNamespace(id=7, status="", kind="note", from_status="", ignored=True, source="callback",
                            raw_status=hostile, reason=hostile, note=hostile, has_payload=True,
                            created_at=timezone.now())
    html = timeline_item(event)
    assert "<script>" not in html and html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") == 3
    assert 'class="tl-item tl-ignored tl-note"' in html and 'href="#payload-7"' in html and "Provider callback" in html
    turn = transcript_turn({"role": '"><b>', "text": hostile})
    assert "<b>" not in turn and "&lt;script&gt;" in turn and 'class="turn turn-&quot;&gt;&lt;b&gt;"' in turn
    assert transcript_turn({"text": "hello"}).startswith('<li class="turn turn-agent"><span class="turn-role">Agent')


def test_payload_panel_points_at_the_event_payload(personas, make_call):
    call = make_call()
    event = call.events.filter(payload__isnull=False).first()
    every = reverse("dashboard:call_payloads", args=[call.public_id])
    html = payload_panel(call, event, every)
    assert f'hx-get="{reverse("dashboard:call_payload", args=[call.public_id, event.id])}"' in html
    assert f'id="payload-{event.id}"' in html and f'href="{every}"' in html


def test_sidenav_marks_only_the_current_section():
    html = sidenav("calls")
    assert html.count('aria-current="page"') == 1
    assert f'href="{reverse("dashboard:calls")}" aria-current="page"' in html
    assert 'aria-current="page"' not in sidenav("")


def test_the_cache_reuses_one_client_per_pool():
    cache.set("written-reads", {"a": 1}, 30)
    assert cache.get("written-reads") == {"a": 1}
    backend = cache._cache
    assert backend.get_client(write=True) is backend.get_client(write=True)
