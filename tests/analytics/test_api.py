"""GET /v1/analytics/providers: the whole response for a known set of calls, every grouping, the
time series in a zone across DST, bad input in the API's error shape, and tenant isolation."""

from datetime import UTC, datetime, timedelta

import pytest

from callops.calls import rollup_reconcile
from callops.calls.models import Call
from tests.analytics import seed

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
PATH = "/v1/analytics/providers"


@pytest.fixture
def known(personas):
    return seed.build(personas.org, BASE)


def usd(total, per_call, per_completed, estimated):
    return [{"currency": "USD", "total_milli_cents": total, "per_call_milli_cents": per_call,
             "per_completed_call_milli_cents": per_completed, "estimated": estimated}]


def group(key, name, provider, *, calls, finished, answered, completed, answer_rate, completion_rate,
          attempted, succeeded, extraction_rate, talked, talk_avg, p90, waited, wait_avg, cost, failovers):
    return {"key": key, "name": name, "provider": provider, "calls": calls, "finished": finished,
            "answered": answered, "completed": completed, "answer_rate": answer_rate,
            "completion_rate": completion_rate, "extraction_attempted": attempted,
            "extraction_succeeded": succeeded, "extraction_success_rate": extraction_rate,
            "talk_time": {"calls": talked, "average_seconds": talk_avg, "p90_seconds": p90},
            "time_to_answer": {"calls": waited, "average_seconds": wait_avg}, "cost": cost, "failovers": failovers}


# Per provider account and per agent the calls split the same way (one agent on each account).
CB = dict(calls=4, finished=3, answered=2, completed=2, answer_rate=0.6667, completion_rate=0.6667, attempted=2,
          succeeded=1, extraction_rate=0.5, talked=2, talk_avg=125.0, p90=300, waited=3, wait_avg=7.7,
          cost=usd(4100, 1025, 2050, True), failovers=1)
BOLNA = dict(calls=3, finished=2, answered=1, completed=1, answer_rate=0.5, completion_rate=0.5, attempted=1,
             succeeded=1, extraction_rate=1.0, talked=1, talk_avg=700.0, p90=1200, waited=1, wait_avg=5.0,
             cost=usd(9000, 3000, 9000, False), failovers=2)


def hourly_series(base):
    def at(h):
        return (base + timedelta(hours=h)).isoformat().replace("+00:00", "Z")

    return [
        {"start": at(0), "end": at(1), "calls": 3, "answered": 3, "completed": 3, "failovers": 2,
         "calls_by_group": [2, 1]},
        {"start": at(1), "end": at(2), "calls": 2, "answered": 0, "completed": 0, "failovers": 1,
         "calls_by_group": [1, 1]},
        {"start": at(2), "end": at(3), "calls": 2, "answered": 0, "completed": 0, "failovers": 0,
         "calls_by_group": [1, 1]},
    ]


def envelope(group_by, data, series, interval="hour", tz="UTC"):
    return {"object": "provider_comparison", "group_by": group_by, "since": "2026-11-10T09:00:00Z",
            "until": "2026-11-10T12:00:00Z", "interval": interval, "tz": tz, "data": data, "series": series}


def test_by_provider_account_the_whole_response(api, known):
    r = api.get(PATH, {"since": "2026-11-10T09:00:00Z", "until": "2026-11-10T12:00:00Z"})
    assert r.status_code == 200, r.content
    assert r.json() == envelope("provider", [
        group(str(known.cb.public_id), "CB main", "callingbox", **CB),
        group(str(known.bolna.public_id), "Bolna EU", "bolna", **BOLNA),
    ], hourly_series(BASE))


def test_by_agent(api, known):
    r = api.get(PATH, {"since": "2026-11-10T09:00:00Z", "until": "2026-11-10T12:00:00Z", "group_by": "agent"})
    assert r.json() == envelope("agent", [
        group(str(known.a1.public_id), "Sales CB", "callingbox", **CB),
        group(str(known.a2.public_id), "Sales Bolna", "bolna", **BOLNA),
    ], hourly_series(BASE))


def test_by_batch(api, known):
    r = api.get(PATH, {"since": "2026-11-10T09:00:00Z", "until": "2026-11-10T12:00:00Z", "group_by": "batch"})
    series = hourly_series(BASE)
    for bucket, split in zip(series, ([1, 2], [2, 0], [2, 0]), strict=True):
        bucket["calls_by_group"] = split
    assert r.json() == envelope("batch", [
        group(None, "No batch", None, calls=5, finished=3, answered=1, completed=1, answer_rate=0.3333,
              completion_rate=0.3333, attempted=1, succeeded=1, extraction_rate=1.0, talked=1, talk_avg=700.0,
              p90=1200, waited=2, wait_avg=4.0, cost=usd(9000, 1800, 9000, False), failovers=2),
        group(str(known.batch.public_id), "November list", None, calls=2, finished=2, answered=2, completed=2,
              answer_rate=1.0, completion_rate=1.0, attempted=2, succeeded=1, extraction_rate=0.5, talked=2,
              talk_avg=125.0, p90=300, waited=2, wait_avg=10.0, cost=usd(4100, 2050, 2050, True), failovers=1),
    ], series)


def test_by_routing_profile(api, known):
    r = api.get(PATH, {"since": "2026-11-10T09:00:00Z", "until": "2026-11-10T12:00:00Z", "group_by": "profile",
                       "interval": "hour"})
    series = hourly_series(BASE)
    for bucket, split in zip(series, ([1, 2], [2, 0], [2, 0]), strict=True):
        bucket["calls_by_group"] = split
    assert r.json() == envelope("profile", [
        group(None, "No routing profile", None, calls=5, finished=3, answered=1, completed=1, answer_rate=0.3333,
              completion_rate=0.3333, attempted=1, succeeded=0, extraction_rate=0.0, talked=1, talk_avg=200.0,
              p90=300, waited=2, wait_avg=7.5, cost=usd(2600, 520, 2600, True), failovers=2),
        group(str(known.profile.public_id), "Split 50/50", None, calls=2, finished=2, answered=2, completed=2,
              answer_rate=1.0, completion_rate=1.0, attempted=2, succeeded=2, extraction_rate=1.0, talked=2,
              talk_avg=375.0, p90=1200, waited=2, wait_avg=6.5, cost=usd(10500, 5250, 5250, False), failovers=1),
    ], series)


def test_period_is_widened_to_whole_hours_and_excludes_calls_outside_it(api, known):
    # 09:10 to 11:50 counts the hours 09:00 to 12:00, the same calls; 08:00 to 09:00 only the early one.
    r = api.get(PATH, {"since": "2026-11-10T09:10:00Z", "until": "2026-11-10T11:50:00+00:00"})
    assert [(g["name"], g["calls"]) for g in r.json()["data"]] == [("CB main", 4), ("Bolna EU", 3)]
    assert (r.json()["since"], r.json()["until"]) == ("2026-11-10T09:00:00Z", "2026-11-10T12:00:00Z")
    early = api.get(PATH, {"since": "2026-11-10T08:00:00Z", "until": "2026-11-10T09:00:00Z"}).json()
    assert [(g["name"], g["calls"], g["cost"]) for g in early["data"]] == [
        ("CB main", 1, usd(100, 100, 100, False))]


def test_default_period_is_the_week_to_now_with_daily_buckets(api, known, clock):
    clock.advance_to(datetime(2026, 11, 12, 15, 20, tzinfo=UTC))
    body = api.get(PATH).json()
    assert (body["since"], body["until"], body["interval"]) == ("2026-11-05T15:00:00Z", "2026-11-12T16:00:00Z",
                                                                  "day")
    assert [b["start"] for b in body["series"]] == ["2026-11-05T15:00:00Z"] + [
        f"2026-11-{d:02d}T00:00:00Z" for d in range(6, 13)]
    assert [b["calls"] for b in body["series"]] == [0, 0, 0, 0, 0, 8, 0, 0]
    assert body["series"][-1]["end"] == "2026-11-12T16:00:00Z"


def test_days_are_the_viewers_across_the_dst_change(api, personas, sandbox_agent):
    # New York leaves DST on 2026-11-01 at 06:00 UTC: that day has 25 hours.
    for at in ("2026-11-01T03:30:00Z", "2026-11-01T04:30:00Z", "2026-11-02T04:30:00Z", "2026-11-02T05:30:00Z"):
        Call.objects.create(organization=personas.org, agent=sandbox_agent, provider="sandbox",
                            provider_account=sandbox_agent.provider_account, to_number="+14155550100",
                            created_at=datetime.fromisoformat(at))
    params = {"since": "2026-10-31T04:00:00Z", "until": "2026-11-03T05:00:00Z", "interval": "day"}
    local = api.get(PATH, {**params, "tz": "America/New_York"}).json()
    assert local["tz"] == "America/New_York"
    assert [(b["start"], b["end"], b["calls"]) for b in local["series"]] == [
        ("2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z", 1),
        ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 2),
        ("2026-11-02T05:00:00Z", "2026-11-03T05:00:00Z", 1),
    ]
    utc = api.get(PATH, params).json()
    assert [(b["start"], b["calls"]) for b in utc["series"]] == [
        ("2026-10-31T04:00:00Z", 0), ("2026-11-01T00:00:00Z", 2), ("2026-11-02T00:00:00Z", 2),
        ("2026-11-03T00:00:00Z", 0)]


NOT_ISO = "is not an ISO 8601 date-time"


@pytest.mark.parametrize(("params", "message", "fields"), [
    ({"since": "yesterday"}, "since must be an ISO 8601 date-time", {"since": NOT_ISO}),
    ({"until": ""}, "until must be an ISO 8601 date-time", {"until": NOT_ISO}),
    ({"since": "2026-11-10T12:00:00Z", "until": "2026-11-10T12:00:00Z"}, "since must be before until", None),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "the period may be at most 92 days long",
     "until"),
    ({"since": "2026-10-01T00:00:00Z", "until": "2026-11-01T00:00:00Z", "interval": "hour"},
     "hourly buckets cover at most 14 days; use day", "interval"),
    ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus': use an IANA name such as Europe/Berlin", "tz"),
])
def test_bad_values_are_a_400_in_the_error_shape(api, known, params, message, fields):
    r = api.get(PATH, params)
    assert r.status_code == 400
    # A period error names its parameter with the message itself; a date that does not parse says so.
    if fields is None:
        fields = {"since": message}
    elif isinstance(fields, str):
        fields = {fields: message}
    assert r.json() == {"error": message, "fields": fields}


@pytest.mark.parametrize(("params", "field"), [({"group_by": "country"}, "group_by"),
                                               ({"interval": "week"}, "interval"),
                                               ({"page": "2"}, "page")])
def test_unknown_choices_and_parameters_are_a_400_naming_them(api, known, params, field):
    r = api.get(PATH, params)
    assert r.status_code == 400
    assert set(r.json()) == {"error", "fields"}
    assert list(r.json()["fields"]) == [field]


def test_an_outsider_sees_only_its_own_calls(api_outsider, known, outsider_agent):
    Call.objects.create(organization=outsider_agent.organization, agent=outsider_agent, provider="sandbox",
                        provider_account=outsider_agent.provider_account, to_number="+14155550100",
                        created_at=BASE + timedelta(minutes=5), status="failed")
    body = api_outsider.get(PATH, {"since": "2026-11-10T09:00:00Z", "until": "2026-11-10T12:00:00Z"}).json()
    assert [(g["key"], g["name"], g["calls"]) for g in body["data"]] == [
        (str(outsider_agent.provider_account.public_id), "Sandbox", 1)]
    assert [b["calls_by_group"] for b in body["series"]] == [[1], [0], [0]]


def test_unauthenticated_is_a_401(client, known):
    r = client.get(PATH)
    assert r.status_code == 401
    assert r.json() == {"error": "missing API key: send it as 'Authorization: Bearer <key>'"}


def test_the_rollups_hold_no_drift_after_the_new_measures(known):
    assert rollup_reconcile.check() == []
    # Rebuilt from the calls, they say the same.
    assert rollup_reconcile.rebuild() > 0
    assert rollup_reconcile.check() == []


def test_served_from_the_rollups_not_the_calls(api, known):
    # Deleting the calls' rows behind the rollups' back (a raw delete skips the queryset hook)
    # leaves the figures standing: they never came from the calls.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DELETE FROM calls_callevent")
        cur.execute("DELETE FROM calls_call")
    body = api.get(PATH, {"since": "2026-11-10T09:00:00Z", "until": "2026-11-10T12:00:00Z"}).json()
    assert [g["calls"] for g in body["data"]] == [4, 3]
    assert not Call.objects.exists()
