"""`manage.py createapikey --org NAME --name KEY [--scope rw|ro]`: mint an API key from a shell.

Prints only the new secret on stdout, so scripts can capture it
(`KEY=$(python manage.py createapikey --org Acme --name deploy)`); everything else goes to stderr.
The organization is created when it does not exist yet.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from callops.accounts import services
from callops.accounts.models import ApiKeyScope, Organization


class Command(BaseCommand):
    help = "Create an API key for an organization (created if missing) and print only its secret."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization name; created when missing.")
        parser.add_argument("--name", required=True, help="A name for the key, e.g. where it is used.")
        parser.add_argument("--scope", default=ApiKeyScope.READ_WRITE, choices=ApiKeyScope.values,
                            help="rw (read and write, default) or ro (read only).")

    def handle(self, *args, org, name, scope, **options):
        org_name = org.strip()
        if not org_name:
            raise CommandError("--org must not be empty")
        if not name.strip():
            raise CommandError("--name must not be empty")
        with transaction.atomic():
            organization = Organization.objects.filter(name=org_name).first()
            if organization is None:
                organization = services.create_organization(org_name)
                self.stderr.write(f"Created organization {org_name!r}")
            try:
                key, secret = services.create_api_key(organization, name, scope=scope, created_by=None)
            except ValueError as exc:
                raise CommandError(str(exc))
        self.stderr.write(f"Created {key.get_scope_display().lower()} key {key.name!r} (prefix {key.prefix}) "
                          f"for {organization.name!r}; the secret below is shown only now.")
        self.stdout.write(secret)
