"""Provider accounts: an organization's credentials for one voice-AI provider."""

import secrets
import uuid

from django.db import models
from django.utils import timezone

from callops.lib import crypto


class ProviderKind(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox (built-in test mode)"
    CALLINGBOX = "callingbox", "CallingBox"
    BOLNA = "bolna", "Bolna"
    POLYAI = "polyai", "PolyAI"
    TRILLET = "trillet", "Trillet"
    DOGRAH = "dograh", "Dograh"


class PriceRounding(models.TextChoices):
    # How connected time becomes billed minutes: whole minutes rounded up (most carriers), or
    # per second (the per-minute price prorated, rounded to the nearest milli-cent).
    MINUTE = "minute", "Per started minute"
    SECOND = "second", "Per second"


def _callback_token() -> str:
    return secrets.token_urlsafe(24)


class ProviderAccount(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="provider_accounts")
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    name = models.CharField(max_length=100)
    # Blank means the provider's documented default; set for regions, self-hosted Dograh, emulators.
    base_url = models.URLField(blank=True)
    # JSON of credentials (api_key, workspace_id, ...), Fernet-encrypted. Write-only from the UI.
    credentials_encrypted = models.TextField(blank=True)
    # Inbound callbacks arrive at /callbacks/<kind>/<callback_token>/ — the token routes the
    # request to this account; `callback_secret` verifies it where the provider signs.
    callback_token = models.CharField(max_length=64, unique=True, default=_callback_token)
    callback_secret_encrypted = models.TextField(blank=True)
    # Requests per minute callops sends to this account, all kinds together, shared by every
    # worker. Blank = the provider's documented limits (each adapter's `rate_limits`); set it to a
    # figure agreed with the provider (PolyAI's limits are per account, for instance).
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # The price table, for calls whose provider reports no cost: a call's estimate is
    # price_per_call + price_per_minute x connected minutes (rounded by price_rounding), in
    # milli-cents of price_currency. Both blank = no table, no estimate.
    price_currency = models.CharField(max_length=3, default="USD")
    price_per_call_milli_cents = models.PositiveIntegerField(null=True, blank=True)
    price_per_minute_milli_cents = models.PositiveIntegerField(null=True, blank=True)
    price_rounding = models.CharField(max_length=10, choices=PriceRounding.choices, default=PriceRounding.MINUTE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="provider_account_name_per_org")]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def has_price_table(self) -> bool:
        return self.price_per_call_milli_cents is not None or self.price_per_minute_milli_cents is not None

    @property
    def callback_url(self) -> str:
        """Where this account's provider posts status callbacks (shown to the user, sent on create)."""
        from django.conf import settings

        return f"{settings.PUBLIC_URL}/callbacks/{self.kind}/{self.callback_token}/"

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, values: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_json({k: v for k, v in values.items() if v not in (None, "")})

    @property
    def callback_secret(self) -> str:
        return crypto.decrypt_text(self.callback_secret_encrypted)

    def set_callback_secret(self, secret: str) -> None:
        self.callback_secret_encrypted = crypto.encrypt_text(secret) if secret else ""


class NumberSource(models.TextChoices):
    PURCHASED = "purchased", "Bought through callops"
    AGENT = "agent", "An agent's caller ID"
    PROVIDER = "provider", "Found on the provider account"


class PhoneNumber(models.Model):
    """A caller ID an organization can place calls from, on one of its provider accounts.

    Numbers bought through callops are rows from the purchase on. An agent's `from_number` is a
    caller ID the organization already uses on that agent's account, so it gets a row too
    (`source=agent`, written by `callops.providers.numbers.sync_agent_caller_ids`), and so do the
    numbers a provider account already holds (`source=provider`, imported on request): one list,
    one kind of id, one keyset order, whatever the number's origin.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="phone_numbers")
    provider_account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="phone_numbers")
    e164 = models.CharField(max_length=20)
    friendly_name = models.CharField(max_length=100, blank=True)
    country_code = models.CharField(max_length=2, default="US")
    # local | toll_free | mobile; "unknown" for an agent's caller ID, whose type callops never saw.
    number_type = models.CharField(max_length=20, default="local")
    status = models.CharField(max_length=20, default="active")
    monthly_cost_cents = models.PositiveIntegerField(default=0)
    purchased_at = models.DateTimeField(default=timezone.now)
    # The provider's own id for the number (CallingBox's UUID); blank where it has none.
    provider_number_id = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=20, choices=NumberSource.choices, default=NumberSource.PURCHASED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider_account", "e164"], name="phone_number_per_account")]
        indexes = [
            # GET /v1/numbers: the organization's numbers, newest first, keyset on (created_at, id).
            models.Index(fields=["organization", "-created_at", "-id"], name="phone_number_org_recent"),
        ]

    def __str__(self):
        return self.e164
