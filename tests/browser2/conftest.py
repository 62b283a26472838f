"""Browser tests for part 2 reuse the Chromium, page, worker and helper fixtures of tests/browser."""

from tests.browser.conftest import (  # noqa: F401  (pytest fixtures, re-exported)
    ARTIFACTS,
    chromium,
    login,
    make_call_db,
    page,
    shot,
    wait_until,
    worker,
)
