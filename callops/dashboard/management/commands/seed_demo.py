"""`manage.py seed_demo`: the demo organization `make run` opens with. Safe to run again.

Creates, when missing: organization "Demo", an owner login `demo`, a sandbox provider account
"Sandbox", an agent "Demo agent" on it (the organization's default agent when it has none, so the
CallingBox SDK's calls, which name no agent, work at once), and an API key "demo". The password and the key secret are
printed once, when created; later runs say they exist and never print a secret again (only
digests and hashes are stored, so they could not be shown anyway).

It lives in the dashboard app because it builds one of everything (organization, login, provider
account, agent, API key): a face app may import every domain app, a domain app may not.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from callops.accounts import services
from callops.accounts.models import Membership, Organization, Role
from callops.calls import agents as agent_services
from callops.calls.models import Agent
from callops.providers.models import ProviderAccount, ProviderKind

ORG_NAME = "Demo"
USERNAME = "demo"
ACCOUNT_NAME = "Sandbox"
AGENT_NAME = "Demo agent"
KEY_NAME = "demo"
AGENT_INSTRUCTIONS = (
    "You are calling on behalf of the clinic to confirm tomorrow's appointment. Greet the person, "
    "say who you are calling for, and ask whether they can still make it. If they cannot, ask for a "
    "day and time that suits them better. Be brief and polite, and end the call once you have an answer."
)
AGENT_RETURNS = {"confirmed": "boolean", "reschedule_to": "string"}


class Command(BaseCommand):
    help = "Create the demo organization, owner login, sandbox agent and API key (idempotent)."

    def handle(self, *args, **options):
        lines = []
        with transaction.atomic():
            org = Organization.objects.filter(name=ORG_NAME).first()
            if org is None:
                org = services.create_organization(ORG_NAME)
                lines.append(f"Created organization {ORG_NAME!r}.")

            User = get_user_model()
            user = User.objects.filter(username=USERNAME).first()
            password = None
            if user is None:
                password = secrets.token_urlsafe(12)
                user = services.ensure_user(USERNAME, password)
            if not Membership.objects.filter(user=user, organization=org).exists():
                services.add_member(org, user, Role.OWNER)

            account, _ = ProviderAccount.objects.get_or_create(
                organization=org, name=ACCOUNT_NAME, defaults={"kind": ProviderKind.SANDBOX})
            agent, created = Agent.objects.get_or_create(
                organization=org, name=AGENT_NAME,
                defaults={"provider_account": account, "instructions": AGENT_INSTRUCTIONS,
                          "returns": AGENT_RETURNS})
            if created:
                lines.append(f"Created sandbox agent {AGENT_NAME!r} (id {agent.public_id}).")
            if not Agent.objects.filter(organization=org, is_default=True).exists():
                agent_services.make_default(agent)

            secret = None
            key = org.api_keys.filter(name=KEY_NAME, revoked_at__isnull=True).first()
            if key is None:
                key, secret = services.create_api_key(org, KEY_NAME)

        out = self.stdout
        for line in lines:
            out.write(line)
        if password:
            out.write(self.style.SUCCESS(
                f"Demo login created: username: {USERNAME}  password: {password}  (shown once; keep it)"))
        else:
            out.write(f"Demo login exists: username: {USERNAME} (password as printed when it was created; "
                      f"reset it with `python manage.py changepassword {USERNAME}`)")
        if secret:
            out.write(self.style.SUCCESS(f"Demo API key created: {secret}  (shown once; keep it)"))
        else:
            out.write(f"Demo API key exists: {KEY_NAME!r}, prefix {key.prefix} (create another with "
                      f"`python manage.py createapikey --org {ORG_NAME} --name <name>`)")
        out.write(f"Demo agent: {AGENT_NAME!r} on provider account {ACCOUNT_NAME!r} (sandbox), id {agent.public_id}")
