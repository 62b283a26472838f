#!/bin/sh
# Make sure Debian's chromium is installed for the browser tests (tests/browser), which drive it
# through Playwright (Playwright cannot download its own browsers here). `make test` and .ci/run
# both call this, so a fresh machine needs nothing installed by hand. Without root or apt-get it
# only says what to do: the browser tests then fail with the same instruction.
set -eu

[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[test] installing Debian's chromium for the browser tests (once)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
    echo "[test] /usr/bin/chromium is missing: install it (apt-get install -y chromium)" \
         "or the browser tests will fail" >&2
fi
