"""Fixtures shared by the calling-rules tests."""

import pytest

from callops.providers import sandbox
from tests.batches.conftest import make_batch  # noqa: F401  (fixture, shared)


@pytest.fixture
def dials(monkeypatch):
    """Numbers the sandbox provider was asked to dial."""
    asked: list[str] = []
    real = sandbox.Adapter.place_call

    def spy(self, call):
        asked.append(call.to_number)
        return real(self, call)

    monkeypatch.setattr(sandbox.Adapter, "place_call", spy)
    return asked
