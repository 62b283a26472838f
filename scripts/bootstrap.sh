#!/bin/sh
# Prepare .venv for `make run` / `make test`: find a Python >= 3.12, create the virtualenv if it is
# missing, and install the project only when pyproject.toml changed since the last install, so a
# second run costs a few milliseconds.
#
# Environment: PYTHON=/path/to/python forces the interpreter used to create .venv.
# `sh scripts/bootstrap.sh --which` only prints the interpreter it would create .venv with.
set -eu

cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.installed-pyproject.toml"

# True when "$1" runs and is Python 3.12 or newer. A pyenv shim can exist on PATH yet fail
# ("python3.12: command not found" when another version is selected), so run it, don't trust `command -v`.
usable() {
    [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    if [ -n "${PYTHON:-}" ]; then
        usable "$PYTHON" && { echo "$PYTHON"; return 0; }
        echo "PYTHON=$PYTHON is not a working Python 3.12 or newer" >&2
        return 1
    fi
    for candidate in python3.13 python3.12 python3; do
        if usable "$candidate"; then echo "$candidate"; return 0; fi
    done
    # pyenv installs that are not the selected version are invisible through the shims; look at
    # them directly, newest first.
    roots=""
    if command -v pyenv >/dev/null 2>&1; then
        roots="$(pyenv root 2>/dev/null || true)"
    fi
    roots="$roots ${PYENV_ROOT:-} $HOME/.pyenv"
    for root in $roots; do
        for candidate in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3.1[2-9] 2>/dev/null | sort -r -V); do
            if usable "$candidate"; then echo "$candidate"; return 0; fi
        done
    done
    return 1
}

NO_PYTHON="callops needs Python 3.12 or newer, and none was found (tried python3.13, python3.12, python3
and the versions installed by pyenv). Install it with your package manager
(for example: apt install python3.12 python3.12-venv) or with pyenv (pyenv install 3.12),
then run the command again."

if [ "${1:-}" = "--which" ]; then
    find_python || { echo "$NO_PYTHON" >&2; exit 1; }
    exit 0
fi

if ! usable "$VENV/bin/python"; then
    # Missing, or left behind by a Python that is gone: (re)create it.
    if ! python="$(find_python)"; then
        echo "$NO_PYTHON" >&2
        exit 1
    fi
    echo "Creating $VENV with $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
fi

if cmp -s pyproject.toml "$STAMP"; then
    exit 0  # installed from this exact pyproject.toml already
fi

echo "Installing callops and its dependencies into $VENV (pyproject.toml changed)"
# Two `make` commands started at once must not run pip concurrently in the same venv.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV/.install.lock"
    flock 9
    if cmp -s pyproject.toml "$STAMP"; then exit 0; fi  # the other one did it
fi
# --no-compile: byte-compiling every installed module (Playwright, mypy, Django...) up front was about
# a third of a fresh install; Python compiles only what is imported, on first import.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile -e ".[test]"
cp pyproject.toml "$STAMP"
