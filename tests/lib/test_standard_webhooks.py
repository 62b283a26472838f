"""Standard Webhooks signing: the spec's test vector and the reference verifier."""

import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from callops.lib import standard_webhooks

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'


def test_spec_test_vector():
    assert standard_webhooks.sign(SECRET, MSG_ID, TS, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secret_shape():
    s = standard_webhooks.generate_secret()
    assert s.startswith("whsec_") and len(standard_webhooks.key_bytes(s)) == 24
    assert s != standard_webhooks.generate_secret()


def test_reference_library_verifies_our_headers_and_rejects_tampering():
    secret = standard_webhooks.generate_secret()
    now = int(time.time())
    headers = standard_webhooks.headers([secret], "msg_abc", now, BODY)
    assert Webhook(secret).verify(BODY, headers) == {"test": 2432232314}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks.generate_secret()).verify(BODY, headers)


def test_two_secrets_give_two_entries_each_verifiable():
    old, new = standard_webhooks.generate_secret(), standard_webhooks.generate_secret()
    headers = standard_webhooks.headers([new, old], "msg_abc", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)


def test_id_with_dot_refused():
    with pytest.raises(ValueError):
        standard_webhooks.sign(SECRET, "msg.1", TS, BODY)
