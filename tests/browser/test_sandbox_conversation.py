"""A sandbox call in a real Chromium: the agent asks about each `returns` field in words built from
it, the callee answers in kind, and the result shows what extraction made of it."""

import re

import pytest
from playwright.sync_api import expect

from callops.calls.models import Call

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_sandbox_conversation_follows_the_calls_returns(page, personas, sandbox_agent, worker):
    sandbox_agent.returns = {"confirmed": "boolean", "reschedule_to": "string"}
    sandbox_agent.save()
    login(page, personas.member.user.username)
    page.goto(page.base_url + "/calls/new/")
    page.get_by_label("Phone number").fill("+12025550100")
    page.get_by_role("button", name="Add context value").click()
    page.get_by_label("Context key").last.fill("sandbox_scenario")
    page.get_by_label("Context value").last.fill("cooperative")
    page.get_by_role("button", name="Place call").click()
    call = Call.objects.get()
    page.wait_for_url(f"**/calls/{call.public_id}/")
    result = page.get_by_test_id("result")
    expect(result.locator(".badge")).to_have_text("Completed", timeout=90_000)

    transcript = page.locator(".transcript")
    agent_lines = transcript.locator(".turn-agent").all_inner_texts()
    said = " ".join(agent_lines)
    assert "would you say yes" not in said.lower()
    assert re.search(r"(put you down as|note you as|mark you as|are we) confirmed\?", said), said
    assert "What day and time should we reschedule to?" in said
    call.refresh_from_db()
    moment = call.result["reschedule_to"]
    assert re.search(r" at ", moment) and moment not in ("standard service", "the blue one", "weekly"), moment
    # The callee said that moment, and the result shows it.
    expect(transcript).to_contain_text(moment, ignore_case=True)
    expect(result).to_contain_text(moment)
