"""What both servers (the BentoML service and the bare FastAPI baseline) do per request, in one place:
look patients up in the Feast online store, score raw rows with the registered RiskModel, and build the
response carrying the model version and its lineage.

The model comes from the BentoML model store (``bentoml.mlflow.load_model``: the MLflow pyfunc imported at
build time). Requests skip the pyfunc's ``predict`` (MLflow schema enforcement and pandas, ~40 ms a row) and
call the RiskModel's ``predict_columns`` on the plain columns the online read returns (no DataFrame at all):
the same preprocessing and weights as ``predict_raw``, a fraction of the time (``unwrap_python_model().model``).

Unknown patient: no row in the online store for any of the task's views (every ``<view>_feature_ts`` stamp
null even without the TTL). A known patient whose values are older than their views' TTL has those views
missing: without a required view (or with none at all) the answer is ``status: "insufficient_data"`` with
the missing views and no risk; otherwise the model scores the row (missing values imputed, flagged as
missing) and the response lists the missing views (``serving.policy``). Values no training row could hold
(not finite, magnitude over 1e12) are refused (``serving.policy.InputRefused``); then numeric values outside
the model's training range (recorded by its preprocessor) are clipped and listed in the answer's ``clipped``,
refused, or passed through, by the range policy (``serving.policy.apply_training_range``), the same for
stored and client features. A model output that is not a probability is the service's error
(``ModelOutputError``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clinical_mlops.settings import load_settings
from feature_store.config import open_store
from feature_store.online import get_online_columns
from feature_store.runtime import store_config
from features.build import VIEWS
from features.tasks import TASKS
from serving.policy import (
    DEFAULT_RANGE_POLICY,
    INSUFFICIENT_DATA,
    NO_RANGE,
    SCORED,
    applied_range_policy,
    apply_training_range,
    check_inputs,
    insufficient_reason,
    required_views,
)
from serving.schemas import ClippedFeature, Prediction
from training.spec import input_spec

logger = logging.getLogger(__name__)


class UnknownPatients(LookupError):
    """Patients without any feature row in the online store (HTTP 404)."""

    def __init__(self, patient_ids: Sequence[str]):
        self.patient_ids = list(patient_ids)
        super().__init__(
            f"{len(self.patient_ids)} patient(s) have no features in the online store: "
            f"{self.patient_ids}"
        )


class ModelOutputError(RuntimeError):
    """The model returned something that is not a probability: the service's failure (HTTP 500 with a request
    id), never blamed on the request."""


@dataclass(frozen=True)
class ModelCard:
    """What every response carries: the model version and the lineage it was trained on."""

    model_name: str
    model_version: str
    task: str
    feature_service: str
    training_set_digest: str
    landing_snapshot_id: str
    threshold: float | None = None


def risk_model_of(pyfunc) -> Any:
    """The RiskModel inside the registered pyfunc (``training/mlflow_model.py``)."""
    python_model = pyfunc.unwrap_python_model()
    model = getattr(python_model, "model", None)
    if model is None or not hasattr(model, "predict_raw"):
        raise TypeError(
            f"the MLflow model is not the clinical RiskModel pyfunc (got {type(python_model).__name__})"
        )
    return model


class Scorer:
    """Online features + RiskModel + response building. Thread-safe (one lock around lookup and scoring:
    the SQLite online store connection and torch are shared).

    ``range_policy`` (``serving.policy.RangePolicy``): what a numeric value outside the training range the
    model's preprocessor recorded becomes: clipped (default), refused, or scored as it is (off)."""

    def __init__(
        self,
        model,
        card: ModelCard,
        store=None,
        *,
        enforce_ttl: bool = True,
        range_policy: str = DEFAULT_RANGE_POLICY,
    ):
        if card.task not in TASKS:
            raise ValueError(f"unknown task {card.task!r}; known tasks: {sorted(TASKS)}")
        self.model = model
        self.card = card
        self.store = store
        self.enforce_ttl = enforce_ttl
        preprocessor = getattr(model, "preprocessor", None)
        self.training_range: dict[str, tuple[float, float]] | None = getattr(
            preprocessor, "training_range", None
        )
        self.range_policy = range_policy
        self.applied_range_policy = applied_range_policy(range_policy, self.training_range)
        self.spec = input_spec(card.task)
        views = TASKS[card.task].feature_views
        self.views = list(views)
        self.required_views = required_views(card.task)
        self.view_features = {v: list(VIEWS[v].features) for v in views}
        self.stamps = {v: VIEWS[v].feature_ts for v in views if VIEWS[v].feature_ts}
        self._stamp_columns = set(self.stamps.values())
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ building blocks

    def online_features(self, patient_ids: Sequence[str]) -> dict[str, list]:
        """The task's feature service for ``patient_ids`` as plain columns (one value per patient, input
        order), TTL applied unless the service was started without it. Raises ``UnknownPatients`` for ids
        with no online row at all."""
        if self.store is None:
            raise RuntimeError("this scorer has no feature store (it scores rows only)")
        ids = list(patient_ids)
        columns = get_online_columns(
            self.store, ids, self.card.feature_service, enforce_ttl=self.enforce_ttl
        )
        unseen = self._without_stamps(columns, len(ids))
        if (
            unseen and self.enforce_ttl
        ):  # expired everywhere, or never seen? ask again without the TTL
            again = get_online_columns(
                self.store, [ids[i] for i in unseen], self.card.feature_service, enforce_ttl=False
            )
            unseen = [unseen[j] for j in self._without_stamps(again, len(unseen))]
        if unseen:
            raise UnknownPatients(sorted({ids[i] for i in unseen}))
        return columns

    def _without_stamps(self, columns: dict[str, list], n: int) -> list[int]:
        """Rows whose every ``<view>_feature_ts`` stamp is null."""
        stamps = [columns[c] for c in self._stamp_columns if c in columns]
        if not stamps:
            raise RuntimeError(
                f"feature service {self.card.feature_service!r} serves no <view>_feature_ts stamps: "
                "cannot tell an unknown patient from a known one"
            )
        return [i for i in range(n) if all(column[i] is None for column in stamps)]

    def rows_columns(self, rows: Sequence[dict[str, Any]]) -> dict[str, list]:
        """Validated request rows (dicts holding every input, in the model dtypes) as plain columns."""
        return {c: [r[c] for r in rows] for c in self.spec.columns}

    def missing_views(self, columns: Mapping[str, Sequence[Any]], n: int) -> list[list[str]]:
        """Per row: the views whose input features are all null."""
        views = [
            (view, [columns[c] for c in cols]) for view, cols in self.view_features.items() if cols
        ]
        return [
            [view for view, values in views if all(v[i] is None for v in values)] for i in range(n)
        ]

    def predictions(
        self, columns: Mapping[str, Sequence[Any]], patient_ids: Sequence[str | None]
    ) -> list[Prediction]:
        """The answers for these rows (``serving.policy``): values the model must not see refuse the whole call
        (``InputRefused``, HTTP 422); values outside the training range are clipped (listed per row in
        ``clipped``) or refuse the call (``OutOfTrainingRange``, HTTP 422) by the range policy; rows missing a
        required view are answered ``insufficient_data`` without being scored; the rest are scored, and a risk
        that is not a probability is the service's failure (``ModelOutputError``, HTTP 500), never a client
        error."""
        n = len(patient_ids)
        check_inputs(columns, self.spec, patient_ids)
        columns, clipped = apply_training_range(
            columns, self.training_range, self.range_policy, patient_ids
        )
        missing = self.missing_views(columns, n)
        reasons = [insufficient_reason(m, self.required_views, self.views) for m in missing]
        scored = [i for i, reason in enumerate(reasons) if reason is None]
        risks: dict[int, float] = {}
        if scored:
            subset = (
                columns
                if len(scored) == n
                else {c: [columns[c][i] for i in scored] for c in self.spec.columns}
            )
            for i, risk in zip(scored, self.model.predict_columns(subset).tolist()):
                if not (math.isfinite(risk) and 0.0 <= risk <= 1.0):
                    who = f"patient {patient_ids[i]}" if patient_ids[i] else f"row {i}"
                    raise ModelOutputError(
                        f"model {self.card.model_name} v{self.card.model_version} returned risk {risk!r} "
                        f"for {who}: not a probability"
                    )
                risks[i] = risk
        card, threshold = self.card, self.card.threshold
        answers = []
        for i, (pid, views, reason) in enumerate(zip(patient_ids, missing, reasons)):
            risk = risks.get(i)
            answers.append(
                Prediction(
                    status=SCORED if reason is None else INSUFFICIENT_DATA,
                    risk=risk,
                    patient_id=pid,
                    model_name=card.model_name,
                    model_version=card.model_version,
                    feature_service=card.feature_service,
                    training_set_digest=card.training_set_digest,
                    landing_snapshot_id=card.landing_snapshot_id,
                    threshold=threshold,
                    flagged=None if threshold is None or risk is None else bool(risk >= threshold),
                    missing_views=views,
                    detail=reason,
                    clipped=[
                        ClippedFeature(feature=c.feature, value=c.value, bound=c.bound)
                        for c in clipped[i]
                    ]
                    if reason is None
                    else [],
                    range_policy=self.applied_range_policy,
                )
            )
        return answers

    def warm_up(self) -> None:
        """First-request costs paid at start-up: the feature service's registry layout, torch's kernels."""
        if self.store is not None:
            get_online_columns(self.store, ["pat_" + "0" * 24], self.card.feature_service)
        self.model.predict_columns(self.rows_columns([dict.fromkeys(self.spec.columns)]))

    # ------------------------------------------------------------------ what the endpoints call

    def score_ids(self, patient_ids: Sequence[str]) -> list[Prediction]:
        """All or nothing: one unknown id fails the whole call with ``UnknownPatients`` listing every one."""
        with self._lock:
            frame = self.online_features(patient_ids)
            return self.predictions(frame, list(patient_ids))

    def score_rows(self, rows: Sequence[dict[str, Any]]) -> list[Prediction]:
        with self._lock:
            return self.predictions(self.rows_columns(rows), [None] * len(rows))


def model_card(pinned) -> ModelCard:
    """The card of the pinned ``serving.args.ServiceArgs``."""
    return ModelCard(
        model_name=pinned.registered_model,
        model_version=pinned.model_version,
        task=pinned.task,
        feature_service=pinned.feature_service,
        training_set_digest=pinned.training_set_digest,
        landing_snapshot_id=pinned.landing_snapshot_id,
        threshold=pinned.threshold,
    )


def check_labels(labels: dict[str, str], pinned) -> None:
    """The BentoML model must be the MLflow version the arguments name (labels written by ``serving.build``)."""
    expected = {
        "registered_model": pinned.registered_model,
        "model_version": pinned.model_version,
        "mlflow_run_id": pinned.mlflow_run_id,
    }
    wrong = {
        k: (labels.get(k), v) for k, v in expected.items() if v and labels.get(k) not in (None, v)
    }
    if wrong:
        raise RuntimeError(
            f"BentoML model {pinned.model_tag} does not match the pinned arguments "
            f"(label: (model, pinned)) {wrong}"
        )


def load_scorer(pinned, stored_model, settings=None) -> Scorer:
    """The scorer a server runs: the pinned BentoML model (``bentoml.mlflow.load_model``), the Feast store of
    ``settings`` (default: read from the environment now), warmed up. Shared by the BentoML service and the
    FastAPI baseline so that both serve through exactly the same path."""
    import bentoml
    import torch

    torch.set_num_threads(pinned.torch_threads)
    check_labels(dict(stored_model.info.labels), pinned)
    pyfunc = bentoml.mlflow.load_model(stored_model)
    settings = settings or load_settings()
    store = open_store(store_config(settings))
    scorer = Scorer(
        risk_model_of(pyfunc),
        model_card(pinned),
        store,
        enforce_ttl=pinned.enforce_ttl,
        range_policy=pinned.range_policy,
    )
    if scorer.applied_range_policy == NO_RANGE:
        logger.warning(
            "model %s v%s records no training range (trained before ranges were recorded): range policy "
            "%r does not apply, out-of-range values are scored as they are",
            pinned.registered_model,
            pinned.model_version,
            pinned.range_policy,
        )
    scorer.warm_up()
    logger.info(
        "serving %s v%s (%s) from BentoML model %s; feature service %s under %s; range policy %s",
        pinned.registered_model,
        pinned.model_version,
        pinned.task,
        stored_model.tag,
        pinned.feature_service,
        settings.feast_home,
        scorer.applied_range_policy,
    )
    return scorer
