"""The one question every call path asks before it dials: may this organization call this number now?"""

from callops.accounts.models import Organization

from . import suppressions


class CallRefused(Exception):
    """A calling rule refuses this call. `code` is the call's error_code when it is canceled."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def check_suppressed(org: Organization, number: str) -> None:
    """CallRefused(code="suppressed") when `number` (any spelling) is on the organization's list."""
    row = suppressions.find(org, number)
    if row is not None:
        raise CallRefused(suppressions.describe(row), code="suppressed")
