"""Every write to organizations, memberships, API keys and the audit log goes through here."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, ApiKeyScope, AuditEntry, Membership, Organization, Role

KEY_PREFIX = "ck_"
# last_used_at is refreshed at most this often, so a busy key costs one UPDATE a minute, not one
# per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def digest_secret(secret: str) -> str:
    # Plain SHA-256, deliberately not keyed with SECRET_KEY: rotating SECRET_KEY must not
    # invalidate every customer's API key. The secret carries 240 bits, so no stretching is needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_organization(name: str, *, owner=None) -> Organization:
    with transaction.atomic():
        org = Organization.objects.create(name=name)
        if owner is not None:
            Membership.objects.create(user=owner, organization=org, role=Role.OWNER)
    return org


def add_member(org: Organization, user, role: str = Role.MEMBER, *, actor=None, ip=None) -> Membership:
    membership, created = Membership.objects.get_or_create(user=user, organization=org, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    audit(org, "member.added" if created else "member.role_changed", actor=actor, ip=ip,
          target=user.get_username(), detail={"role": role})
    return membership


def create_api_key(org: Organization, name: str, *, scope: str = ApiKeyScope.READ_WRITE, created_by=None,
                   ip=None) -> tuple[ApiKey, str]:
    """Returns the key row and the secret. The secret exists only in this return value."""
    if scope not in ApiKeyScope.values:
        raise ValueError(f"scope must be one of {', '.join(ApiKeyScope.values)}")
    name = (name or "").strip()
    if not name:
        raise ValueError("a key needs a name")
    prefix = secrets.token_hex(6)  # 12 hex chars, unique index catches the rare clash
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(30)}"
    with transaction.atomic():
        key = ApiKey.objects.create(organization=org, name=name[:100], scope=scope, prefix=prefix,
                                    digest=digest_secret(secret), created_by=created_by)
        audit(org, "api_key.created", actor=created_by, ip=ip, target=key.name,
              detail={"prefix": prefix, "scope": scope})
    return key, secret


def authenticate_api_key(secret: str) -> ApiKey | None:
    """The active key for `secret`, or None. Constant-time digest comparison."""
    if not secret or not secret.startswith(KEY_PREFIX):
        return None
    body = secret[len(KEY_PREFIX):]
    prefix, sep, _ = body.partition("_")
    if not sep or len(prefix) != 12:
        return None
    key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.digest, digest_secret(secret)):
        return None
    if key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def revoke_api_key(key: ApiKey, *, actor=None, ip=None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit(key.organization, "api_key.revoked", actor=actor, ip=ip, target=key.name,
              detail={"prefix": key.prefix})
    return key


def audit(org: Organization, action: str, *, actor=None, ip=None, target: str = "", detail=None) -> AuditEntry:
    label = actor.get_username() if actor is not None and getattr(actor, "pk", None) else (
        str(actor) if actor else "system")
    return AuditEntry.objects.create(
        organization=org, actor=actor if getattr(actor, "pk", None) else None, actor_label=label[:200],
        action=action, target=target[:200], detail=detail or {}, ip_address=ip,
    )


def ensure_user(username: str, password: str | None = None, *, email: str = ""):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created or password:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user
