"""Field accuracy of the rules extractor on the labelled transcript set.

Run: `make bench-extraction` (or `.venv/bin/python bench/extraction.py [-v]`). The baseline,
measured in the same run, is a naive extractor that parses all of the callee's words for each
field and takes the first value of the right type (no question association, no corrections);
the ratio shows what question association and "last answer wins" buy. Prints each miss with -v.
The last line is `extraction: accuracy=<x> goal=0.9`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callops.settings")

import django  # noqa: E402

django.setup()

from callops.extraction import parsing  # noqa: E402
from callops.extraction.extractors.rules import extract_turns  # noqa: E402
from callops.extraction.schema import coerce, validate_returns  # noqa: E402
from callops.extraction.transcript import turns  # noqa: E402
from tests.extraction.labelled import HAND_WRITTEN, HELD_OUT, cases, generated, score  # noqa: E402

GOAL = 0.9


def rules(transcript, returns, when):
    return coerce(returns, extract_turns(transcript, returns, when), when)[0]


def naive(transcript, returns, when):
    """Baseline: every field parsed from all of the callee's words at once, first hit wins."""
    said = [text for role, text in turns(transcript) if role == "user"]
    out = {}
    for name, spec in validate_returns(returns).items():
        for text in said:
            value = None
            if spec == "boolean":
                value = parsing.parse_boolean(text)
            elif spec in ("number", "integer"):
                value = parsing.parse_number(text)
            elif spec == "date":
                value = parsing.parse_date(text, when)
            elif spec == "datetime":
                value = parsing.parse_datetime(text, when)
            elif spec == "email":
                value = parsing.parse_email(text)
            elif spec == "phone":
                value = parsing.parse_phone(text)
            elif isinstance(spec, list):
                value = parsing.match_enum(text, spec)
            if value is not None:
                out[name] = value
                break
    return coerce(returns, out, when)[0]


def main() -> None:
    verbose = "-v" in sys.argv
    n = len(cases())
    started = time.perf_counter()
    right, total, misses = score(rules)
    rules_seconds = time.perf_counter() - started
    base_right, base_total, _ = score(naive)
    accuracy = right / total
    baseline = base_right / base_total
    print(f"labelled set: {n} transcripts, {total} fields")
    print(f"rules extractor: {right}/{total} fields exact, accuracy {accuracy:.3f} "
          f"({rules_seconds * 1000 / n:.2f} ms per transcript)")
    for label, subset in (("hand-written", HAND_WRITTEN), ("held-out hand-written", HELD_OUT),
                          ("sandbox-generated", generated())):
        r, t, _ = score(rules, subset)
        print(f"  {label}: {len(subset)} transcripts, {r}/{t} fields exact, accuracy {r / t:.3f}")
    print(f"naive baseline:  {base_right}/{base_total} fields exact, accuracy {baseline:.3f}")
    print(f"ratio rules/baseline: {accuracy / baseline if baseline else float('inf'):.2f}x")
    for case, field, expected, got in misses if verbose else []:
        print(f"  miss: {case} / {field}: expected {expected!r}, got {got!r}")
    if not verbose and misses:
        print(f"{len(misses)} misses (run with -v to list them)")
    print(f"extraction: accuracy={accuracy:.3f} goal={GOAL}")


if __name__ == "__main__":
    main()
