"""The CI gate on the code's shape (scripts/check_layout.py) finds what it is there to find."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_layout.py"
spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
check_layout = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layout)


def test_long_modules_and_mark_safe_are_reported_and_data_is_exempt(tmp_path):
    root = tmp_path / "callops"
    (root / "calls" / "migrations").mkdir(parents=True)
    (root / "calls" / "long.py").write_text("x = 1\n" * 601)
    (root / "calls" / "fine.py").write_text("x = 1\n" * 600)
    (root / "calls" / "migrations" / "0001_initial.py").write_text("x = 1\n" * 900)
    (root / "calls" / "tags.py").write_text("from django.utils.safestring import mark_safe\n"
                                            "# mark_safe in a comment is not a use\n")
    assert check_layout.problems(root) == [
        "callops/calls/long.py: 601 lines (at most 600); split it into modules named for what they do",
        "callops/calls/tags.py:1: mark_safe in Python; build the markup in a template",
    ]
    assert check_layout.main(["check_layout.py", str(root)]) == 1
    (root / "calls" / "long.py").unlink()
    (root / "calls" / "tags.py").unlink()
    assert check_layout.main(["check_layout.py", str(root)]) == 0
