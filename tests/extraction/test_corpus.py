"""The labelled corpora are well-formed, and the held-out set is big enough to mean something.

Failures name only the file, the case id and what is malformed, never a transcript: the held-out
cases are not to be read while working on the extractor (tests/extraction/corpus/README.md).
"""

import json

import pytest

from tests.extraction import corpus


@pytest.mark.parametrize("path", corpus.files("heldout") + corpus.files("dev"), ids=lambda p: p.name)
def test_every_case_is_well_formed(path):
    problems = [f"{case.get('id')}: {error}" for case in json.loads(path.read_text(encoding="utf-8"))
                for error in corpus.validate(case)]
    assert not problems, "\n".join(problems)


def test_held_out_set_size_and_no_case_in_both_sets():
    heldout, dev = corpus.load("heldout"), corpus.load("dev")
    assert len(heldout) >= 150
    assert sum(len(case["expected"]) for case in heldout) >= 400
    ids = [case["id"] for case in heldout + dev]
    assert len(ids) == len(set(ids))
    transcripts = {json.dumps(case["transcript"]) for case in heldout}
    assert not any(json.dumps(case["transcript"]) in transcripts for case in dev)


@pytest.mark.parametrize("kind, expected, got, accept, right", [
    ("string", "tomas", "Tomas.", (), True),
    ("string", "waiting for the part", "Wait for the part!", ("wait for the part",), True),
    ("string", "dont know", "don't know", (), True),
    ("string", "cigna", None, (), False),
    ("string", None, None, (), True),
    ("boolean", False, None, (), False),
    ("integer", 7, 7.0, (), True),
    ("integer", 1, True, (), False),
    ("currency", {"amount": 250.0, "currency": "USD"}, {"amount": 250.004, "currency": "usd"}, (), True),
    ("currency", {"amount": 250.0, "currency": "USD"}, {"amount": 250.0, "currency": "CAD"}, (), False),
    ("datetime", "2025-12-11T08:30:00-05:00", "2025-12-11T13:30:00+00:00", (), True),
    ("datetime", "2025-12-11T08:30:00-05:00", "2025-12-11T08:30:00+00:00", (), False),
    ("email", "k.nguyen88@outlook.com", "knguyen88@outlook.com", (), False),
])
def test_scoring(kind, expected, got, accept, right):
    assert corpus.same(kind, expected, got, accept) is right


def test_lists_are_compared_ignoring_order():
    spec = {"type": "list", "items": {"type": "enum", "values": ["vegetarian", "nut_allergy"]}}
    assert corpus.same_field(spec, ["vegetarian", "nut_allergy"], ["nut_allergy", "vegetarian"])
    assert not corpus.same_field(spec, ["vegetarian", "nut_allergy"], ["vegetarian"])
    assert not corpus.same_field(spec, ["vegetarian"], ["vegetarian", "vegetarian"])


@pytest.mark.slow
def test_rules_extractor_accuracy_floors():
    """Regression floors, measured as `make bench-extraction` does (aggregates only for the held-out set)."""
    from datetime import datetime
    from types import SimpleNamespace

    from callops.extraction.clock import call_time, region_for
    from callops.extraction.extractors import rules
    from callops.extraction.schema import coerce, validate_returns

    def accuracy(cases):
        right = total = 0
        for case in cases:
            call = SimpleNamespace(transcript=case["transcript"], context={"timezone": case["timezone"]},
                                   to_number="", started_at=None, created_at=None,
                                   answered_at=datetime.fromisoformat(case["call_time"].replace("Z", "+00:00")))
            schema = validate_returns(case["returns"])
            got = coerce(schema, rules.extract(call, schema), call_time(call), region=region_for(call))[0]
            scored = corpus.score_case(case, got)
            right += sum(ok for _, _, ok in scored)
            total += len(scored)
        return right / total

    assert accuracy(corpus.load("dev")) >= 0.62
    assert accuracy(corpus.load("heldout")) >= 0.65
