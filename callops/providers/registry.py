"""Which adapter class serves which provider kind."""

from importlib import import_module

from .base import ProviderAdapter

_MODULES = {
    "sandbox": "callops.providers.sandbox",
    "callingbox": "callops.providers.callingbox",
    "bolna": "callops.providers.bolna",
    "polyai": "callops.providers.polyai",
    "trillet": "callops.providers.trillet",
    "dograh": "callops.providers.dograh",
}


def adapter_class(kind: str) -> type[ProviderAdapter]:
    try:
        module = import_module(_MODULES[kind])
    except KeyError:
        raise LookupError(f"unknown provider kind {kind!r}") from None
    return module.Adapter


def adapter_for(account) -> ProviderAdapter:
    return adapter_class(account.kind)(account)
