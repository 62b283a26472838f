"""Settings → Numbers across personas: the list, a search through the sandbox, buying (admins)."""

import pytest
from django.urls import reverse

from callops.calls.models import Agent
from callops.providers.models import PhoneNumber, ProviderAccount

pytestmark = pytest.mark.django_db

URL = reverse("dashboard:numbers")


@pytest.fixture
def sandbox(personas):
    return ProviderAccount.objects.create(organization=personas.org, kind="sandbox", name="Sandbox")


@pytest.mark.parametrize("who", ["owner", "admin", "member", "viewer", "outsider"])
def test_list_and_search_for_every_persona(personas, sandbox, who):
    Agent.objects.create(organization=personas.org, provider_account=sandbox, name="A", from_number="+14155550123")
    page = getattr(personas, who).client().get(URL).content.decode()
    assert ("+14155550123" in page) == (who != "outsider")
    found = getattr(personas, who).client().get(URL, {"search": "1", "area_code": "202"})
    if who == "outsider":
        assert found.status_code == 400 and "sells numbers" in found.content.decode()
        return
    body = found.content.decode()
    assert found.status_code == 200 and "+12025550100" in body
    assert ("data-confirm=\"Buy +12025550100 on Sandbox?" in body) == (who in ("owner", "admin"))


def test_admin_buys_and_the_number_is_listed(personas, sandbox):
    client = personas.admin.client()
    r = client.post(URL, {"phone_number": "+12025550107", "provider_account_id": str(sandbox.public_id)})
    assert r.status_code == 302
    number = PhoneNumber.objects.get(e164="+12025550107")
    assert number.provider_account == sandbox and number.source == "purchased"
    page = client.get(URL).content.decode()
    assert "+12025550107" in page and "bought on Sandbox" in page
    assert "+12025550107" not in client.get(URL, {"search": "1"}).content.decode().split("Find a number")[1]
    again = client.post(URL, {"phone_number": "+12025550107"})
    assert again.status_code == 409 and "already" in again.content.decode()


def test_members_cannot_buy(personas, sandbox):
    r = personas.member.client().post(URL, {"phone_number": "+12025550100"})
    assert r.status_code == 403 and not PhoneNumber.objects.exists()


def test_no_selling_account(personas):
    ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    page = personas.owner.client().get(URL).content.decode()
    assert "None of your provider accounts sells numbers" in page


def test_admin_imports_what_a_callingbox_account_holds(personas):
    from callops.providers.emulators import emulator_class

    emu = emulator_class("callingbox")().start()
    try:
        account = ProviderAccount(organization=personas.org, kind="callingbox", name="CB", base_url=emu.url)
        account.set_credentials({"api_key": emu.api_key})
        account.save()
        client = personas.admin.client()
        assert "Import numbers held by CB" in client.get(URL).content.decode()
        r = client.post(URL, {"action": "import", "provider_account_id": str(account.public_id)})
        assert r.status_code == 302
        assert list(PhoneNumber.objects.values_list("e164", "source")) == [(emu.DEFAULT_NUMBER, "provider")]
        assert "1 number added from CB" in client.get(URL).content.decode()
    finally:
        emu.stop()
