"""Local HTTP emulators of the seed providers, for adapter tests, the chaos test and benchmarks.

Each speaks its provider's dialect (auth headers, id formats, status words, error bodies) and
plays a scripted timeline per destination number, time-scaled by `speed`, with injectable faults
(latency, 429 + Retry-After, 5xx, timeouts, duplicated and reordered callbacks).
"""

from importlib import import_module

KINDS = ("callingbox", "bolna", "polyai", "trillet", "dograh")


def emulator_class(kind: str):
    if kind not in KINDS:
        raise LookupError(f"no emulator for {kind!r}")
    return import_module(f"callops.providers.emulators.{kind}").Emulator
