"""Evaluation corpora readers and the overlap-based scorer."""

from __future__ import annotations

from pathlib import Path

import pytest

from deid.corpora import CorpusError, Span, read_corpus
from deid.scoring import f_beta, score

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_physionet_records_and_gold_offsets(tmp_path: Path) -> None:
    body1 = "Pt Jöhn Smith seen 3/4/2090.\nCall 555-1234.\n"
    body2 = "No PHI here.\n"
    (tmp_path / "id.text").write_bytes(
        (
            f"START_OF_RECORD=1||||1||||\n{body1}||||END_OF_RECORD\n"
            f"START_OF_RECORD=1||||2||||\n{body2}||||END_OF_RECORD\n"
        ).encode("latin-1")
    )
    start = body1.index("Jöhn")
    (tmp_path / "id-phi.phrase").write_text(
        f"1 1 {start} {start + 10} PTName Jöhn Smith\n", encoding="latin-1"
    )
    docs = read_corpus("physionet", tmp_path / "id.text", tmp_path / "id-phi.phrase")
    assert [d.doc_id for d in docs] == ["1-1", "1-2"]
    assert docs[0].text == body1
    assert docs[0].gold == [Span(start, start + 10, "PTName", "Jöhn Smith")]
    (tmp_path / "bad.phrase").write_text("1 9 0 4 PTName x\n")
    with pytest.raises(CorpusError, match="bad.phrase:1: note 1-9 is not in"):
        read_corpus("physionet", tmp_path / "id.text", tmp_path / "bad.phrase")


def test_i2b2_xml(tmp_path: Path) -> None:
    (tmp_path / "110-01.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2><TEXT><![CDATA[Record date: 2067-05-03\n'
        'Dr. Ann Lee]]></TEXT><TAGS><DATE id="P0" start="13" end="23" text="2067-05-03" TYPE="DATE" comment="" />'
        '<NAME id="P1" start="28" end="35" text="Ann Lee" TYPE="DOCTOR" comment="" /></TAGS></deIdi2b2>'
    )
    (doc,) = read_corpus("i2b2", tmp_path)
    assert doc.doc_id == "110-01"
    assert [(s.label, doc.text[s.start : s.end]) for s in doc.gold] == [
        ("DATE", "2067-05-03"),
        ("DOCTOR", "Ann Lee"),
    ]
    (tmp_path / "broken.xml").write_text("<deIdi2b2><TEXT>")
    with pytest.raises(CorpusError, match="broken.xml: not well-formed XML"):
        read_corpus("i2b2", tmp_path)


@pytest.mark.shared_data
@pytest.mark.skipif(
    not (SHARED / "presidio-synth").is_dir(), reason="../shared/data/presidio-synth is absent"
)
def test_presidio_synth_reads_every_span() -> None:
    docs = read_corpus("presidio", SHARED / "presidio-synth" / "synth_dataset_v2.json")
    assert len(docs) == 1500
    assert sum(len(d.gold) for d in docs) == 2863
    assert all(d.text[s.start : s.end] == s.text for d in docs for s in d.gold)


def test_scoring_overlap_recall_precision_f2() -> None:
    gold = {"a": [Span(0, 4, "NAME"), Span(10, 20, "DATE")], "b": [Span(5, 9, "PHONE")]}
    detected = {"a": [Span(2, 3, "NAME"), Span(30, 35, "NAME")], "b": [Span(9, 12, "PHONE")]}
    result = score(gold, detected)
    overall = result["overall"]
    # ends exclusive: PHONE [5, 9) and [9, 12) only touch, so neither counts
    assert (overall.gold, overall.found, overall.detected, overall.correct) == (3, 1, 3, 1)
    assert (
        result["by_gold_label"]["DATE"].recall == 0.0
        and result["by_gold_label"]["NAME"].recall == 1.0
        and result["by_gold_label"]["PHONE"].recall == 0.0
    )
    assert result["by_detected_label"]["NAME"].precision == 0.5
    # the older inclusive rule (PhysioNet scorer) counts touching spans, on request only
    assert score(gold, detected, inclusive=True)["by_gold_label"]["PHONE"].found == 1
    assert (
        abs(overall.f2 - f_beta(1 / 3, 1 / 3)) < 1e-12
        and abs(f_beta(1.0, 0.5) - 5 * 0.5 / (4 + 0.5)) < 1e-12
    )


def test_touching_spans_do_not_overlap() -> None:
    from deid.scoring import overlaps

    assert not overlaps(Span(0, 4, "NAME"), Span(4, 9, "NAME"))
    assert not overlaps(Span(4, 9, "NAME"), Span(0, 4, "NAME"))
    assert overlaps(Span(0, 5, "NAME"), Span(4, 9, "NAME"))
    result = score({"d": [Span(0, 4, "NAME")]}, {"d": [Span(4, 9, "NAME")]})
    assert (result["overall"].found, result["overall"].correct) == (0, 0)
    assert result["overall"].recall == 0.0 and result["overall"].precision == 0.0
