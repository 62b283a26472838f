#!/usr/bin/env bash
# Fuzz the live API with Schemathesis: every operation in /v1/openapi.json, every check
# (`--checks all`: server errors, status codes, content types, response schemas, negative data
# rejected, positive data accepted, ...), against gunicorn serving the real app.
#
# Usage: scripts/fuzz_api.sh [extra schemathesis arguments]
# Uses DATABASE_URL / REDIS_URL from the environment (CI passes its own); migrates, seeds the demo
# organization (a sandbox agent, so calls can be placed), makes an API key with `createapikey`,
# starts gunicorn on a free loopback port and stops it when done. FUZZ_MAX_EXAMPLES (default 20)
# bounds the examples per operation; FUZZ_SEED (default 1) makes a run repeatable.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python

$PY manage.py migrate --noinput >/dev/null
$PY manage.py seed_demo >/dev/null 2>&1
key="$($PY manage.py createapikey --org Demo --name "schemathesis $(date -u +%Y%m%dT%H%M%S)" 2>/dev/null)"
port="$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

log="$(mktemp)"
# The fuzzer sends far more than a client's minute of requests; a 429 on every one would test
# nothing. --limit-request-line as in the Procfile, so over-long URLs reach Django's JSON 414.
API_RATE_LIMIT_PER_MINUTE=1000000 .venv/bin/gunicorn callops.wsgi --bind "127.0.0.1:$port" --workers 1 \
    --threads 4 --limit-request-line 8190 --no-control-socket --error-logfile "$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 60); do
    if $PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/v1/openapi.json', timeout=1)" \
        >/dev/null 2>&1; then
        break
    fi
    sleep 0.5
done

status=0
.venv/bin/schemathesis run "http://127.0.0.1:$port/v1/openapi.json" --checks all \
    --max-examples "${FUZZ_MAX_EXAMPLES:-20}" --seed "${FUZZ_SEED:-1}" \
    -H "Authorization: Bearer $key" --workers 1 --no-color "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "== gunicorn's log" >&2
    tail -n 50 "$log" >&2
fi
exit "$status"
