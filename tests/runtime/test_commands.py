"""createapikey and seed_demo: what they print, what they create, and that they can run twice."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from callops.accounts.models import ApiKey, AuditEntry, Membership, Organization, Role
from callops.accounts.services import authenticate_api_key
from callops.calls.models import Agent
from callops.providers.models import ProviderAccount


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_createapikey_prints_only_a_working_secret_and_creates_the_org():
    out, err = run("createapikey", "--org", "Initech", "--name", "deploy")

    secret = out.strip()
    assert out == secret + "\n", "stdout must hold the secret alone, for KEY=$(...)"
    key = authenticate_api_key(secret)
    assert key is not None and key.name == "deploy" and key.scope == "rw"
    assert key.organization.name == "Initech"
    assert secret not in err and key.prefix in err  # the human message never repeats the secret


@pytest.mark.django_db
def test_createapikey_reuses_an_existing_org_and_honours_read_only_scope():
    run("createapikey", "--org", "Initech", "--name", "one")
    out, _ = run("createapikey", "--org", "Initech", "--name", "reporting", "--scope", "ro")

    assert Organization.objects.filter(name="Initech").count() == 1
    key = authenticate_api_key(out.strip())
    assert key.scope == "ro" and not key.can_write
    assert ApiKey.objects.filter(organization__name="Initech").count() == 2


@pytest.mark.django_db
def test_createapikey_rejects_bad_input_and_creates_nothing():
    with pytest.raises(CommandError):
        run("createapikey", "--org", "Initech", "--name", "x", "--scope", "admin")
    with pytest.raises(CommandError):
        run("createapikey", "--org", "Initech", "--name", "   ")
    assert not Organization.objects.filter(name="Initech").exists()
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_seed_demo_creates_everything_once_and_never_repeats_secrets():
    first, _ = run("seed_demo")

    password = re.search(r"password: (\S+)", first).group(1)
    secret = re.search(r"Demo API key created: (\S+)", first).group(1)
    org = Organization.objects.get(name="Demo")
    user = authenticate(username="demo", password=password)
    assert user is not None
    assert Membership.objects.get(user=user, organization=org).role == Role.OWNER
    assert authenticate_api_key(secret).organization == org
    account = ProviderAccount.objects.get(organization=org, name="Sandbox")
    assert account.kind == "sandbox"
    agent = Agent.objects.get(organization=org, name="Demo agent")
    assert agent.provider_account == account and agent.instructions
    assert agent.returns == {"confirmed": "boolean", "reschedule_to": "string"}

    counts = [m.objects.count() for m in (Organization, Membership, ProviderAccount, Agent, ApiKey, AuditEntry)]
    second, _ = run("seed_demo")

    assert counts == [m.objects.count() for m in (Organization, Membership, ProviderAccount, Agent, ApiKey,
                                                     AuditEntry)]
    assert password not in second and secret not in second
    assert "Demo login exists" in second and "Demo API key exists" in second
    assert authenticate(username="demo", password=password) is not None  # password untouched


@pytest.mark.django_db
def test_seed_demo_replaces_a_revoked_demo_key():
    from callops.accounts.services import revoke_api_key

    first, _ = run("seed_demo")
    old = authenticate_api_key(re.search(r"Demo API key created: (\S+)", first).group(1))
    revoke_api_key(old)

    again, _ = run("seed_demo")

    new_secret = re.search(r"Demo API key created: (\S+)", again).group(1)
    assert authenticate_api_key(new_secret).pk != old.pk
    assert "password:" not in again
