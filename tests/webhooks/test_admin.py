"""Operators can browse webhook state in the admin without ever seeing a signing secret."""

import pytest


@pytest.mark.parametrize("model", ["webhookendpoint", "webhookdelivery", "recoveryjob", "notification"])
def test_admin_pages_render_without_secrets(admin_client, endpoint, make_call, model):
    make_call()
    resp = admin_client.get(f"/admin/webhooks/{model}/")
    assert resp.status_code == 200
    assert endpoint.plain_secret.encode() not in resp.content
    if model == "webhookendpoint":
        page = admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
        assert page.status_code == 200 and endpoint.plain_secret.encode() not in page.content
        assert endpoint.secret_encrypted.encode() not in page.content
