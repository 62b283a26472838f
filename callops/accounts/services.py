"""Every write to organizations, memberships, API keys and the audit log goes through here."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, ApiKeyScope, AuditEntry, Membership, Organization, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django.http import HttpRequest

# Who did something: a signed-in user, the request's user (anonymous on public routes), a label (an
# API key's), or nobody (the system: jobs, management commands).
type Actor = User | AnonymousUser | str | None

KEY_PREFIX = "ck_"
# last_used_at is refreshed at most this often, so a busy key costs one UPDATE a minute, not one
# per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def digest_secret(secret: str) -> str:
    # Plain SHA-256, deliberately not keyed with SECRET_KEY: rotating SECRET_KEY must not
    # invalidate every customer's API key. The secret carries 240 bits, so no stretching is needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_organization(name: str, *, owner: User | None = None) -> Organization:
    with transaction.atomic():
        org = Organization.objects.create(name=name)
        if owner is not None:
            Membership.objects.create(user=owner, organization=org, role=Role.OWNER)
    return org


def add_member(org: Organization, user: User, role: str = Role.MEMBER, *, actor: Actor = None,
               ip: str | None = None) -> Membership:
    membership, created = Membership.objects.get_or_create(user=user, organization=org, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    audit(org, "member.added" if created else "member.role_changed", actor=actor, ip=ip,
          target=user.get_username(), detail={"role": role})
    return membership


def create_api_key(org: Organization, name: str, *, scope: str = ApiKeyScope.READ_WRITE,
                   created_by: User | None = None, ip: str | None = None) -> tuple[ApiKey, str]:
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


def key_prefix(secret: str) -> str | None:
    """The lookup prefix of a well-formed secret (`ck_<12 hex>_<random>`), else None."""
    if not secret or not secret.startswith(KEY_PREFIX):
        return None
    prefix, sep, _ = secret[len(KEY_PREFIX):].partition("_")
    return prefix if sep and len(prefix) == 12 else None


def touch_last_used(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def authenticate_api_key(secret: str) -> ApiKey | None:
    """The active key for `secret`, or None. Constant-time digest comparison."""
    prefix = key_prefix(secret)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.digest, digest_secret(secret)):
        return None
    if key.revoked_at is not None:
        return None
    touch_last_used(key)
    return key


def revoke_api_key(key: ApiKey, *, actor: Actor = None, ip: str | None = None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit(key.organization, "api_key.revoked", actor=actor, ip=ip, target=key.name,
              detail={"prefix": key.prefix})
    return key


def audit(org: Organization, action: str, *, actor: Actor = None, ip: str | None = None, target: str = "",
          detail: dict[str, Any] | None = None) -> AuditEntry:
    user = cast("User | None", actor if getattr(actor, "pk", None) else None)  # only a saved user has a row
    label = user.get_username() if user is not None else (str(actor) if actor else "system")
    return AuditEntry.objects.create(
        organization=org, actor=user, actor_label=label[:200],
        action=action, target=target[:200], detail=detail or {}, ip_address=ip or _request_ip.get(),
    )


def ensure_user(username: str, password: str | None = None, *, email: str = "") -> User:
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created or password:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


# --- Where an action came from ---------------------------------------------------------------------
# Services in other apps call `audit()` without an address; a dashboard view wraps its work in
# `request_origin(request)` so their entries still say where the action came from.
_request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("callops_request_ip", default=None)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the web server saw it.

    X-Forwarded-For is deliberately not read: anyone can send it, and an audit log that believes
    it records what the attacker typed. Behind a proxy, configure the server (gunicorn
    --forwarded-allow-ips) so REMOTE_ADDR is the real client.
    """
    value = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@contextlib.contextmanager
def request_origin(request: HttpRequest) -> Iterator[None]:
    token = _request_ip.set(client_ip(request))
    try:
        yield
    finally:
        _request_ip.reset(token)


# --- Members and roles -------------------------------------------------------------------------------
class MemberError(Exception):
    """A membership change that is not allowed (last owner, bad role, unknown user); nothing was changed."""


def _owner_count(org: Organization) -> int:
    return Membership.objects.filter(organization=org, role=Role.OWNER).count()


def invite_member(org: Organization, identifier: str, role: str, *, actor: Actor = None,
                  ip: str | None = None) -> tuple[Membership, bool]:
    """Add a user by username or email; create the user if there is none.

    Returns (membership, created_user). A created user has an unusable password: the caller shows
    them a one-time set-password link (see `set_password_link`).
    """
    User = get_user_model()
    identifier = (identifier or "").strip()
    if role not in Role.values:
        raise MemberError(f"role must be one of {', '.join(Role.values)}")
    if not identifier or len(identifier) > 150:
        raise MemberError("give a username or an email address (at most 150 characters)")
    is_email = "@" in identifier
    if is_email:
        try:
            validate_email(identifier)
        except ValidationError:
            raise MemberError(f"{identifier!r} is not a valid email address") from None
    elif not re.fullmatch(r"[\w.@+-]+", identifier):
        raise MemberError("a username may contain letters, digits and @ . + - _ only")
    with transaction.atomic():
        user = User.objects.filter(username__iexact=identifier).first()
        if user is None and is_email:
            user = User.objects.filter(email__iexact=identifier).order_by("pk").first()
        created_user = user is None
        if user is None:
            user = User(username=identifier, email=identifier if is_email else "")
            user.set_unusable_password()
            user.save()
        elif Membership.objects.filter(organization=org, user=user).exists():
            raise MemberError(f"{user.get_username()} is already a member")
        membership = Membership.objects.create(organization=org, user=user, role=role)
        audit(org, "member.invited", actor=actor, ip=ip, target=user.get_username(),
              detail={"role": role, "new_user": created_user})
    return membership, created_user


def set_password_link(user: User) -> str:
    """Path of a one-time link where a new user chooses a password (dies once a password is set)."""
    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    return reverse("dashboard:set_password", args=[urlsafe_base64_encode(force_bytes(user.pk)),
                                                   default_token_generator.make_token(user)])


def change_role(membership: Membership, role: str, *, actor: Actor = None, ip: str | None = None) -> Membership:
    if role not in Role.values:
        raise MemberError(f"role must be one of {', '.join(Role.values)}")
    org = membership.organization
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        old = locked.role
        if old == role:
            return locked
        if old == Role.OWNER and _owner_count(org) <= 1:
            raise MemberError("an organization needs at least one owner; make someone else owner first")
        locked.role = role
        locked.save(update_fields=["role"])
        audit(org, "member.role_changed", actor=actor, ip=ip, target=locked.user.get_username(),
              detail={"from": old, "to": role})
    return locked


def remove_member(membership: Membership, *, actor: Actor = None, ip: str | None = None) -> None:
    org = membership.organization
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == Role.OWNER and _owner_count(org) <= 1:
            raise MemberError("the last owner cannot be removed")
        username = locked.user.get_username()
        role = locked.role
        locked.delete()
        audit(org, "member.removed", actor=actor, ip=ip, target=username, detail={"role": role})
