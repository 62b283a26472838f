"""scripts/bootstrap.sh finds a Python 3.12+ by itself, or says exactly what to install."""

import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/bin:/bin"


def which(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ROOT / "scripts" / "bootstrap.sh"), "--which"], capture_output=True, text=True,
                          env={"PATH": SYSTEM_PATH, "HOME": str(home)}, timeout=120)


def system_has_python312() -> bool:
    probe = "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)"
    return any(subprocess.run(["sh", "-c", f"{name} -c '{probe}'"], env={"PATH": SYSTEM_PATH},
                              capture_output=True).returncode == 0 for name in ("python3.13", "python3.12", "python3"))


def test_finds_a_pyenv_python_that_is_not_on_path(tmp_path):
    import sys

    real = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    fake = tmp_path / ".pyenv" / "versions" / "3.12.99" / "bin"
    fake.mkdir(parents=True)
    (fake / real.name).symlink_to(real)
    # An older version must never win over a usable one.
    older = tmp_path / ".pyenv" / "versions" / "3.11.7" / "bin"
    older.mkdir(parents=True)
    (older / "python3.11").symlink_to(real)

    result = which(tmp_path)

    assert result.returncode == 0, result.stderr
    chosen = result.stdout.strip()
    if not system_has_python312():
        assert chosen == str(fake / real.name)


@pytest.mark.skipif(system_has_python312(), reason="this machine has Python 3.12+ on the system PATH")
def test_says_what_to_install_when_there_is_no_python(tmp_path):
    result = which(tmp_path)

    assert result.returncode == 1
    assert "callops needs Python 3.12 or newer" in result.stderr
    assert "apt install python3.12" in result.stderr and "pyenv install 3.12" in result.stderr


@pytest.mark.slow
def test_make_test_fails_when_no_test_is_collected_and_leaves_no_redis(tmp_path):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["CALLOPS_VAR_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "scripts/test.py", "tests/runtime/test_bootstrap.py", "-k",
                             "no_test_has_this_name"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 5, result.stdout + result.stderr
    assert "pytest collected no tests: failing" in result.stderr
    port = result.stdout.split("redis://127.0.0.1:")[1].split("/")[0]  # the embedded one it started
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", int(port)), timeout=2):
        pass  # redis-server was stopped with the run
