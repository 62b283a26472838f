"""Production configuration: `check --deploy` is clean, and every setting read from the environment
is documented in the README table."""

import os
import re
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path) -> dict:
    # A clean environment, not the test process's: other tests' conftests set variables (for example
    # DJANGO_ALLOW_ASYNC_UNSAFE for the browser tests) that production never has.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "REDIS_URL") if k in os.environ}
    env.update({
        "DEBUG": "0",
        "SECRET_KEY": "x7Hq-" + "k2P9vR4mZ8wL1nB6cT3yF5" * 3,
        "ALLOWED_HOSTS": "callops.example.com",
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PUBLIC_URL": "https://callops.example.com",
        "CALLOPS_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "callops.settings",
    })
    return env


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    # Production never falls back to the generated local secrets in var/.
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "encryption_key").exists()


def test_production_refuses_to_start_without_its_keys(tmp_path):
    env = production_env(tmp_path)
    del env["ENCRYPTION_KEY"]
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "DEBUG=0 requires ENCRYPTION_KEY in the environment" in result.stderr


def test_production_settings_turn_on_https_hashed_static_and_csp(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS > 0, s.STORAGES['staticfiles']['BACKEND'], "
        "\"'unsafe-inline'\" not in str(s.SECURE_CSP), "
        "'django.middleware.csp.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE)"
    )
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                            env=production_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "True", "True", "True", "True",
                                     "whitenoise.storage.CompressedManifestStaticFilesStorage", "True", "True"], \
        result.stderr


def test_every_environment_variable_is_documented_in_the_readme():
    settings_src = (ROOT / "callops" / "settings.py").read_text()
    names = set(re.findall(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", settings_src))
    names |= set(re.findall(r"""os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""", settings_src))
    assert {"DEBUG", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= names  # the pattern still matches
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", readme, flags=re.M))
    missing = sorted(names - documented)
    assert not missing, f"add these to the environment table in README.md: {', '.join(missing)}"
