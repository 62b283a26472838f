"""Routing in a real Chromium: the provider page's live health and circuit states, closing a
circuit, and setting up a routing profile (a weighted split) and an agent's fallback."""

import pytest
from playwright.sync_api import expect

from callops.calls import routing
from callops.calls.models import Agent, RoutingProfile
from callops.providers import circuits
from callops.providers.models import ProviderAccount

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _agent(org, name, kind):
    account = ProviderAccount.objects.create(organization=org, kind=kind, name=f"{name} account")
    return Agent.objects.create(organization=org, provider_account=account, name=name)


def test_the_provider_page_shows_live_health_and_an_admin_closes_a_circuit(page, personas):
    failing, healthy = _agent(personas.org, "CallingBox agent", "callingbox"), _agent(personas.org, "Bolna agent",
                                                                                     "bolna")
    for _ in range(20):
        circuits.record(failing.provider_account.pk, circuits.ERROR, 0.25)
    for _ in range(4):
        circuits.record(healthy.provider_account.pk, circuits.OK, 0.1)
    login(page, personas.admin.user.username)
    page.goto(page.base_url + "/settings/providers/")
    bad_row = page.get_by_test_id("health-CallingBox agent account")
    good_row = page.get_by_test_id("health-Bolna agent account")
    expect(bad_row).to_have_attribute("data-circuit", "open")
    expect(bad_row).to_contain_text("20 errors and 0 429s in the last 20 requests")
    expect(bad_row).to_contain_text("100%")
    expect(bad_row).to_contain_text("250 ms / 250 ms")
    expect(good_row).to_have_attribute("data-circuit", "closed")
    expect(good_row).to_contain_text("0%")

    # Live: the card refreshes itself, so a circuit opening elsewhere shows without a reload.
    for _ in range(20):
        circuits.record(healthy.provider_account.pk, circuits.THROTTLED, 0.1)
    expect(good_row).to_have_attribute("data-circuit", "open", timeout=30_000)
    # It opened on the 20th request in its window: 4 answered, then 16 429s.
    expect(good_row).to_contain_text("0 errors and 16 429s in the last 20 requests")

    bad_row.get_by_role("button", name="Close circuit").click()
    expect(page.locator(".message-success")).to_contain_text("The circuit of “CallingBox agent account” is closed")
    expect(page.get_by_test_id("health-CallingBox agent account")).to_have_attribute("data-circuit", "closed")
    assert circuits.health(failing.provider_account.pk).state == circuits.CLOSED


def test_an_admin_sets_up_a_routing_profile_and_a_fallback(page, personas):
    bolna, callingbox = _agent(personas.org, "Bolna agent", "bolna"), _agent(personas.org, "CallingBox agent",
                                                                            "callingbox")
    login(page, personas.admin.user.username)
    page.goto(page.base_url + "/settings/routing/")
    expect(page.get_by_text("No routing profiles yet.")).to_be_visible()
    page.get_by_role("link", name="New routing profile").click()
    page.get_by_label("Name").fill("Bolna vs CallingBox")
    page.get_by_label("Agent 1", exact=True).select_option(label="Bolna agent (Bolna)")
    page.get_by_label("Weight 1", exact=True).fill("80")
    page.get_by_label("Agent 2", exact=True).select_option(label="CallingBox agent (CallingBox)")
    page.get_by_label("Weight 2", exact=True).fill("0")
    page.get_by_label("Agent 3", exact=True).select_option(label="Bolna agent (Bolna)")
    page.get_by_label("Weight 3", exact=True).fill("5")
    page.get_by_role("button", name="Create profile").click()
    # The same agent twice: the form comes back as typed, with the reason.
    expect(page.get_by_test_id("form-error")).to_contain_text("agents[2].agent_id: the agent is listed twice")
    expect(page.get_by_label("Weight 1", exact=True)).to_have_value("80")
    assert not RoutingProfile.objects.exists()
    page.get_by_label("Agent 3", exact=True).select_option(label="—")
    page.get_by_label("Weight 3", exact=True).fill("")
    page.get_by_label("Weight 2", exact=True).fill("20")
    page.get_by_role("button", name="Create profile").click()
    expect(page.locator(".message-success")).to_contain_text(
        "Routing profile “Bolna vs CallingBox” saved: Bolna agent 80% / CallingBox agent 20%.")
    row = page.get_by_test_id("profile-Bolna vs CallingBox")
    expect(row.get_by_test_id("share")).to_have_text(["Bolna agent (bolna): weight 80, 80%",
                                                      "CallingBox agent (callingbox): weight 20, 20%"])
    profile = RoutingProfile.objects.get()
    assert [(w.agent, w.weight) for w in profile.weights.all()] == [(bolna, 80), (callingbox, 20)]

    # The Bolna agent falls back to the CallingBox one.
    page.goto(page.base_url + f"/settings/agents/{bolna.public_id}/")
    page.get_by_label("Fallback 1").select_option(label="CallingBox agent (CallingBox)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("fallbacks-Bolna agent")).to_have_text("Falls back to CallingBox agent")
    assert routing.fallbacks_of(bolna) == [callingbox]
    # The agent's page states the chain.
    page.goto(page.base_url + f"/settings/agents/{bolna.public_id}/")
    expect(page.get_by_test_id("fallback-chain")).to_have_text("Calls fail over to CallingBox agent (CallingBox).")
    expect(page.get_by_label("Fallback 1")).to_have_value(str(callingbox.public_id))
