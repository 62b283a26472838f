"""Encryption at rest for provider credentials and webhook signing secrets.

Fernet (AES-128-CBC + HMAC) with MultiFernet so ENCRYPTION_KEY can list several keys: the first
encrypts, all of them decrypt, which makes key rotation a config change plus a re-save.
"""

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _box() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt_text(plain: str) -> str:
    return _box().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    if not token:
        return ""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # Never echo the token: it is ciphertext of a secret.
        raise ValueError("stored secret cannot be decrypted with the configured ENCRYPTION_KEY") from exc


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt_text(json.dumps(value, sort_keys=True))


def decrypt_json(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(decrypt_text(token)) if token else {}
    return value
