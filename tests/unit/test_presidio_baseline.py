"""The optional Presidio baseline: skipped unless `pip install -e '.[presidio-baseline]'` was run."""

from __future__ import annotations

import pytest

from deid.baselines.presidio_baseline import PRESIDIO_TO_GOLD, presidio_available, typed_recall
from deid.corpora import Span

REASON = presidio_available()


def test_module_imports_and_reports_why_not_without_presidio():
    assert REASON is None or "pip install -e '.[presidio-baseline]'" in REASON


def test_typed_recall_uses_the_label_mapping():
    assert (
        "GPE" in PRESIDIO_TO_GOLD["LOCATION"] and "STREET_ADDRESS" in PRESIDIO_TO_GOLD["LOCATION"]
    )
    gold = {"d": [Span(0, 6, "GPE", "Boston"), Span(10, 14, "PERSON", "Anna")]}
    detected = {"d": [Span(0, 6, "LOCATION", "Boston"), Span(10, 14, "DATE_TIME", "Anna")]}
    scores = typed_recall(gold, detected)
    assert scores["GPE"].recall == 1.0 and scores["PERSON"].recall == 0.0


@pytest.mark.slow
@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_presidio_finds_a_name_and_a_phone_with_exact_offsets():
    from deid.baselines.presidio_baseline import PresidioBaseline

    text = "Please call John Smith at 617-555-0123 tomorrow."
    spans = PresidioBaseline().detect(text)
    by_label = {(s.label, s.start, s.end) for s in spans}
    name, phone = text.index("John Smith"), text.index("617-555-0123")
    assert ("PERSON", name, name + len("John Smith")) in by_label
    assert ("PHONE_NUMBER", phone, phone + len("617-555-0123")) in by_label
    assert all(s.text == text[s.start : s.end] for s in spans)


def test_reason_names_the_missing_package(monkeypatch):
    import importlib.util

    from deid.baselines import presidio_baseline

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == presidio_baseline.MODEL_NAME else real(name, *a),
    )
    if real("presidio_analyzer") is None or real("spacy") is None:
        pytest.skip("presidio-analyzer or spacy not installed: the model check is not reached")
    reason = presidio_baseline.presidio_available()
    assert (
        reason is not None
        and presidio_baseline.MODEL_PACKAGE in reason
        and "presidio-baseline" in reason
    )
    with pytest.raises(presidio_baseline.PresidioUnavailable):
        presidio_baseline.PresidioBaseline()
