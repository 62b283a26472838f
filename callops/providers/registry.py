"""Which adapter class serves which provider kind."""

from . import bolna, callingbox, dograh, polyai, sandbox, trillet
from .base import ProviderAdapter

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    "sandbox": sandbox.Adapter,
    "callingbox": callingbox.Adapter,
    "bolna": bolna.Adapter,
    "polyai": polyai.Adapter,
    "trillet": trillet.Adapter,
    "dograh": dograh.Adapter,
}
# Every provider kind, in the order sweeps visit them.
KINDS = tuple(ADAPTERS)


def adapter_class(kind: str) -> type[ProviderAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"unknown provider kind {kind!r}") from None


def adapter_for(account) -> ProviderAdapter:
    return adapter_class(account.kind)(account)
