"""Extraction tests decide for themselves whether to wait for late provider details."""

import pytest


@pytest.fixture(autouse=True)
def _no_details_grace(settings):
    settings.EXTRACTION_DETAILS_GRACE_SECONDS = 0
