"""Calls list filters, keyset pages, CSV export, and the query budget of every page."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from callops.calls.models import Call, CallStatus
from callops.dashboard import call_views

pytestmark = pytest.mark.django_db


def listed(response) -> str:
    return response.content.decode()


def test_filters_live_in_the_url_and_combine(personas, make_call):
    failed = make_call(CallStatus.FAILED, to="+14155550001")
    no_answer = make_call(CallStatus.NO_ANSWER, to="+14155550002")
    done = make_call(CallStatus.COMPLETED, to="+14155550003", answered_by="human", result_status="failed")
    client = personas.viewer.client()
    url = reverse("dashboard:calls")

    page = listed(client.get(url, {"status": ["failed", "no_answer"]}))
    assert failed.to_number in page and no_answer.to_number in page and done.to_number not in page
    assert 'value="failed" checked' in page and 'value="no_answer" checked' in page

    page = listed(client.get(url, {"answered_by": "human"}))
    assert done.to_number in page and failed.to_number not in page
    page = listed(client.get(url, {"result_status": "failed"}))
    assert done.to_number in page and no_answer.to_number not in page
    page = listed(client.get(url, {"provider": "sandbox", "agent": str(done.agent.public_id)}))
    assert all(c.to_number in page for c in (failed, no_answer, done))
    page = listed(client.get(url, {"provider": "bolna"}))
    assert "No calls match these filters." in page


def test_search_by_number_prefix_call_id_and_provider_id(personas, make_call):
    a = make_call(to="+14155550001", provider_call_id="prov-abc")
    b = make_call(to="+442071838750")
    client = personas.viewer.client()
    url = reverse("dashboard:calls")
    page = listed(client.get(url, {"q": "+44 20 7183"}))
    assert b.to_number in page and a.to_number not in page
    page = listed(client.get(url, {"q": str(a.public_id)}))
    assert a.to_number in page and b.to_number not in page
    page = listed(client.get(url, {"q": "prov-abc"}))
    assert a.to_number in page and b.to_number not in page


def test_date_range_uses_the_readers_days(personas, make_call):
    old = make_call(to="+14155550009", age=timedelta(days=10))
    new = make_call(to="+14155550008")
    client = personas.viewer.client()
    from django.utils import timezone

    today = timezone.now().date()
    page = listed(client.get(reverse("dashboard:calls"), {"from": (today - timedelta(days=1)).isoformat()}))
    assert new.to_number in page and old.to_number not in page
    page = listed(client.get(reverse("dashboard:calls"), {"to": (today - timedelta(days=5)).isoformat()}))
    assert old.to_number in page and new.to_number not in page


def test_bad_filter_values_are_explained_not_500(personas):
    r = personas.viewer.client().get(reverse("dashboard:calls"), {"status": "bogus", "from": "yesterday",
                                                                   "agent": "nope", "after": "!!"})
    assert r.status_code == 200
    page = listed(r)
    assert "unknown status bogus" in page and "from must be a date" in page


def test_keyset_pages_walk_every_call_once_newest_first(personas, make_call, monkeypatch):
    from callops.dashboard import call_filters

    monkeypatch.setattr(call_filters, "PAGE_SIZE", 3)
    calls = [make_call(to=f"+1415555{1000 + i}", age=timedelta(minutes=i)) for i in range(8)]
    client = personas.viewer.client()
    url, seen = reverse("dashboard:calls") + "?status=completed", []
    import re

    while url:
        page = listed(client.get(url))
        seen += re.findall(r'class="mono row-link"[^>]*>([^<]+)<', page)
        nxt = re.search(r'href="([^"]+)" rel="next"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert seen == [c.to_number for c in calls]  # made oldest-last: age grows with i


def _numbers(page):
    import re

    return re.findall(r'class="mono row-link"[^>]*>([^<]+)<', page)


def _link(page, label):
    import re

    found = re.search(r'href="([^"]+)"[^>]*>' + re.escape(label) + "<", page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_pages_go_newer_and_to_the_oldest_and_say_where_they_are(personas, make_call, monkeypatch):
    from callops.dashboard import call_filters

    monkeypatch.setattr(call_filters, "PAGE_SIZE", 3)
    calls = [make_call(to=f"+1415555{1000 + i}", age=timedelta(minutes=i)) for i in range(8)]
    numbers = [c.to_number for c in calls]  # newest first
    client = personas.viewer.client()
    first = listed(client.get(reverse("dashboard:calls")))
    assert _numbers(first) == numbers[0:3]
    assert "1–3 of 8" in first
    assert _link(first, "« Newest") is None and _link(first, "‹ Newer") is None
    second = listed(client.get(_link(first, "Older ›")))
    assert _numbers(second) == numbers[3:6] and "4–6 of 8" in second
    oldest = listed(client.get(_link(second, "Oldest »")))
    assert _numbers(oldest) == numbers[5:8] and "6–8 of 8" in oldest
    assert _link(oldest, "Older ›") is None and _link(oldest, "Oldest »") is None
    back = listed(client.get(_link(oldest, "‹ Newer")))
    assert _numbers(back) == numbers[2:5] and "3–5 of 8" in back
    again = listed(client.get(_link(back, "‹ Newer")))
    assert _numbers(again) == numbers[0:2] and "1–2 of 8" in again
    assert _link(again, "‹ Newer") is None
    assert _link(back, "« Newest") == reverse("dashboard:calls")


def test_search_finds_a_number_fragment_and_an_id_prefix(personas, make_call):
    a = make_call(to="+12025550105")
    b = make_call(to="+12025550199")
    client = personas.viewer.client()
    url = reverse("dashboard:calls")
    assert _numbers(listed(client.get(url, {"q": "0105"}))) == [a.to_number]
    assert _numbers(listed(client.get(url, {"q": "555 01"}))) == [b.to_number, a.to_number]
    short = str(b.public_id)[:8]
    assert _numbers(listed(client.get(url, {"q": short}))) == [b.to_number]
    assert _numbers(listed(client.get(url, {"q": short.upper()}))) == [b.to_number]
    assert _numbers(listed(client.get(url, {"q": str(a.public_id)[:13]}))) == [a.to_number]
    # A number typed from its start still matches only from the start.
    assert _numbers(listed(client.get(url, {"q": "+1202"}))) == [b.to_number, a.to_number]
    assert _numbers(listed(client.get(url, {"q": "+0105"}))) == []
    # Another organization's call is never found by its id prefix.
    assert "No calls match" in listed(personas.outsider.client().get(url, {"q": short}))


def test_failed_rows_show_their_error_code(personas, failed_call, make_call):
    failed_call("invalid_number", to="+12025550102")
    make_call(to="+12025550100")
    page = listed(personas.viewer.client().get(reverse("dashboard:calls")))
    assert page.count('data-testid="error-code"') == 1
    assert 'title="invalid_number happened">invalid_number</code>' in page


def test_a_filter_change_from_htmx_gets_the_results_and_a_clean_url(personas, make_call):
    make_call(to="+12025550105")
    r = personas.viewer.client().get(reverse("dashboard:calls"), {"q": "0105", "provider": "", "from": ""},
                                     HTTP_HX_REQUEST="true")
    page = listed(r)
    assert r["HX-Push-Url"] == reverse("dashboard:calls") + "?q=0105"
    assert page.lstrip().startswith('<section class="card card-flush" id="call-results"')
    assert "<form" not in page and "+12025550105" in page
    assert f'href="{reverse("dashboard:calls_export")}?q=0105"' in page and 'hx-swap-oob="true"' in page
    # Going back to a URL htmx no longer has cached gets the whole page.
    r = personas.viewer.client().get(reverse("dashboard:calls"), {"q": "0105"}, HTTP_HX_REQUEST="true",
                                     HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<form" in listed(r) and "HX-Push-Url" not in r


def test_count_is_capped_not_a_full_count(personas, make_call, monkeypatch):
    from callops.dashboard import call_filters

    monkeypatch.setattr(call_filters, "COUNT_CAP", 2)
    for i in range(3):
        make_call(to=f"+1415555200{i}")
    page = listed(personas.viewer.client().get(reverse("dashboard:calls")))
    assert "More than 2 calls" in page


def test_csv_export_streams_the_filtered_set(personas, make_call):
    failed = make_call(CallStatus.FAILED, to="+14155550001", error_message="=HYPERLINK(\"x\")")
    done = make_call(CallStatus.COMPLETED, to="+14155550002")
    r = personas.viewer.client().get(reverse("dashboard:calls_export"), {"status": "failed"})
    assert r.status_code == 200 and r.streaming
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert [row["id"] for row in rows] == [str(failed.public_id)]
    assert rows[0]["to"] == "+14155550001" and rows[0]["agent"] == "Sandbox agent"
    assert rows[0]["error_message"].startswith("'=")  # no formula injection into spreadsheets
    assert str(done.public_id) not in str(rows)


def test_csv_export_carries_results_context_and_one_column_per_returns_field_of_the_agent(personas, make_call,
                                                                                        sandbox_agent):
    sandbox_agent.returns = {"confirmed": {"type": "boolean"}, "slots": {"type": "list[string]"},
                             "note": {"type": "string"}}
    sandbox_agent.save()
    call = make_call(CallStatus.COMPLETED, to="+14155550001", context={"name": "Ada"}, metadata={"crm": 7},
                     result={"confirmed": True, "slots": ["9:00", "10:30"], "note": "=cmd"},
                     result_status="completed")
    client = personas.viewer.client()

    r = client.get(reverse("dashboard:calls_export"), {"agent": str(sandbox_agent.public_id)})
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))

    header = [name for name, _ in call_views.CSV_COLUMNS]
    assert rows[0] == [*header, "result", "result_error", "context", "metadata",
                       "result.confirmed", "result.note", "result.slots"]  # by name
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["id"], row["result_status"]) == (str(call.public_id), "completed")
    assert {k: row[k] for k in rows[0][len(header):]} == {
        "result": '{"confirmed":true,"note":"=cmd","slots":["9:00","10:30"]}', "result_error": "",
        "context": '{"name":"Ada"}', "metadata": '{"crm":7}',
        "result.confirmed": "true", "result.slots": '["9:00","10:30"]',
        "result.note": "'=cmd",  # a free-text answer never runs as a spreadsheet formula
    }

    # Not filtered to one agent: the JSON columns, no per-field ones (agents' fields differ).
    everything = list(csv.reader(io.StringIO(b"".join(client.get(reverse("dashboard:calls_export"))
                                                          .streaming_content).decode())))
    assert everything[0] == [*header, "result", "result_error", "context", "metadata"]


def _bulk_calls(agent, n, start=0):
    Call.objects.bulk_create([
        Call(organization=agent.organization, agent=agent, provider_account=agent.provider_account,
             provider=agent.provider_account.kind, to_number=f"+1415{5000000 + start + i:07d}",
             status=CallStatus.COMPLETED, error_message="x" * 40) for i in range(n)], batch_size=5000)


def _export_peak(client):
    """Consume the export as a slow client would, chunk by chunk; (data rows, peak bytes allocated)."""
    import tracemalloc

    from django.http import StreamingHttpResponse

    r = client.get(reverse("dashboard:calls_export"))
    assert isinstance(r, StreamingHttpResponse) and r.status_code == 200
    tracemalloc.start()
    try:
        chunks = iter(r.streaming_content)
        header = next(chunks)
        assert header.startswith(b"id,created_at,status")
        rows = sum(1 for _ in chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return rows, peak


@pytest.mark.slow
def test_csv_export_memory_stays_flat_as_the_export_grows(personas, sandbox_agent):
    """Four times the rows, about the same peak memory: rows are read and written as they stream
    (a server-side cursor read in chunks), never the whole result at once."""
    client = personas.viewer.client()
    _bulk_calls(sandbox_agent, 5_000)
    small_rows, small_peak = _export_peak(client)
    _bulk_calls(sandbox_agent, 15_000, start=5_000)
    big_rows, big_peak = _export_peak(client)
    assert (small_rows, big_rows) == (5_000, 20_000)
    # Loading every row first would make the peak grow with the row count (4x here).
    assert big_peak < 1.6 * small_peak, (small_peak, big_peak)


def _seed(make_call, n):
    statuses = [CallStatus.COMPLETED, CallStatus.FAILED, CallStatus.RINGING, CallStatus.QUEUED, CallStatus.NO_ANSWER]
    for i in range(n):
        make_call(statuses[i % len(statuses)], to=f"+1415555{3000 + i}", age=timedelta(hours=i * 7),
                  result_status="failed" if i % 4 == 0 else "", webhook_status="failed" if i % 3 == 0 else "")


@pytest.mark.parametrize("n", [3, 25])
def test_query_count_stays_bounded_whatever_the_number_of_calls(personas, make_call, n,
                                                                django_assert_max_num_queries):
    _seed(make_call, n)
    call = Call.objects.filter(status=CallStatus.COMPLETED).first()
    client = personas.viewer.client()
    client.get(reverse("dashboard:overview"))  # warm the session
    pages = {
        # 16 reads: each open-problem count reads the window's whole days and its first hours
        # (rollup_windows).
        reverse("dashboard:overview"): 16,
        reverse("dashboard:overview_live"): 7,
        reverse("dashboard:calls"): 8,
        reverse("dashboard:calls") + "?status=failed&status=completed&q=%2B1415": 8,
        reverse("dashboard:call_detail", args=[call.public_id]): 8,
        reverse("dashboard:call_live", args=[call.public_id]): 8,
        reverse("dashboard:call_row", args=[call.public_id]): 5,
        reverse("dashboard:calls_export"): 5,
    }
    member = personas.member.client()
    member.get(reverse("dashboard:overview"))
    with django_assert_max_num_queries(8):
        assert member.get(reverse("dashboard:call_new")).status_code == 200
    for url, budget in pages.items():
        with django_assert_max_num_queries(budget):
            r = client.get(url)
            if r.streaming:
                b"".join(r.streaming_content)
        # The call is completed: its polling fragments answer 286 (stop polling).
        polling = url in (reverse("dashboard:call_live", args=[call.public_id]),
                          reverse("dashboard:call_row", args=[call.public_id]))
        assert r.status_code == (286 if polling else 200), url


def test_overview_figures(personas, make_call):
    for _ in range(3):
        make_call(CallStatus.COMPLETED)
    make_call(CallStatus.NO_ANSWER)
    make_call(CallStatus.FAILED, result_status="", webhook_status="failed")
    make_call(CallStatus.COMPLETED, age=timedelta(days=8))
    make_call(CallStatus.FAILED, age=timedelta(days=9))
    make_call(CallStatus.RINGING)
    page = listed(personas.viewer.client().get(reverse("dashboard:overview")))
    # answer rate this week: 3 answered of 5 finished = 60%; previous week 1 of 2 = 50%
    assert "60.0%" in page and "+10.0 pts" in page
    # completion rate: 3 of 5; previous 1 of 2
    assert page.count("60.0%") == 2
    # Open problems are triage's counts: the failed and the unanswered call of the last 7 days
    # (the failed one 9 days ago is outside); no webhook delivery failed.
    assert '<span class="problem-count">2</span> failed, unanswered or busy calls' in page
    assert '<span class="problem-count">0</span> failing webhook deliveries' in page
    assert "<svg" in page and 'class="series-completed"' in page
    assert 'id="live-calls"' in page and "+14155550123" in page
