"""openapi-python-client builds a client from the served /v1/openapi.json without a warning: every
response it reads is a named, typed model (no duplicate inline models, no untyped bodies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # a subprocess that renders ~100 modules


def test_generated_client_has_no_warnings_and_imports(api, tmp_path):
    response = api.get("/v1/openapi.json")
    assert response.status_code == 200
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(response.json()))
    out = tmp_path / "callops_client"
    # The generator's post-hooks run `ruff`: the one installed beside this interpreter.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(doc), "--meta", "none",
         "--output-path", str(out), "--fail-on-warning"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output

    models = {p.stem for p in (out / "models").glob("*.py")}
    # The batch answers are the document's named models, not generated inline copies.
    assert {"batch_created_out", "batch_preview_out", "batch_detail_out", "batch_list_out"} <= models
    assert not [m for m in models if m.endswith("_response_200") or m.endswith("_response_201")], sorted(models)
    imported = subprocess.run(
        [sys.executable, "-c", "import callops_client.api.batches, callops_client.models; "
                               "print(callops_client.models.BatchCreatedOut.__name__)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "BatchCreatedOut"
