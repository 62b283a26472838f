#!/usr/bin/env python3
"""CI gate on the shape of the code, beside the import graph (scripts/app_graph.py).

Fails when a module under callops/ is longer than 600 lines (migrations and the
sandbox's scripted transcripts aside: they are data, not logic) or when Python code marks a string
safe (`mark_safe`): markup is built in templates, where autoescaping holds, and `format_html` is
the tool for a one-line snippet.

Usage: scripts/check_layout.py [ROOT]   (default: callops/ beside this script's parent)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_LINES = 600
# Data rather than logic: long by nature, and nobody reads them as code.
EXEMPT = ("*/migrations/*", "*/sandbox_transcripts.py")
MARK_SAFE = re.compile(r"\bmark_safe\b")


def problems(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if any(rel.match(pattern) for pattern in EXEMPT):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_LINES:
            found.append(f"{rel}: {lines} lines (at most {MAX_LINES}); split it into modules named for what they do")
        for number, line in enumerate(text.splitlines(), 1):
            if MARK_SAFE.search(line.split("#", 1)[0]):
                found.append(f"{rel}:{number}: mark_safe in Python; build the markup in a template")
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "callops"
    found = problems(root)
    for line in found:
        print(line)
    print(f"layout: {len(found)} problem(s) under {root.name}/")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
