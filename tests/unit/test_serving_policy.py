"""What the prediction service refuses (422 naming the feature), clips to the training range (listed in the
answer), declines to score (insufficient_data, no risk) and how it answers its own failures (500 with a request
id, never a 400): the policy on its own, then the Scorer on a real (tiny) RiskModel, then the error answers both
servers share."""

from __future__ import annotations

import json

import pytest
import torch
from pydantic import ValidationError

from features.build import VIEWS
from features.tasks import READMISSION_30D
from serving.answers import error_response
from serving.args import ServiceArgs
from serving.policy import (
    DEFAULT_RANGE_POLICY,
    MAX_ABS_VALUE,
    ClippedValue,
    InputProblem,
    InputRefused,
    OutOfTrainingRange,
    apply_training_range,
    check_inputs,
    insufficient_reason,
    required_views,
)
from serving.schemas import Prediction
from serving.scoring import ModelCard, ModelOutputError, Scorer, UnknownPatients
from training.fit import FitConfig, fit_local
from training.preprocessing import STATE_FORMAT, STATE_VERSION, Preprocessor
from training.spec import input_spec
from training.synthetic import synthetic_training_set

TASK = READMISSION_30D.name
SPEC = input_spec(TASK)
PID = "pat_" + "a" * 24


def columns_of(rows):
    return {c: [r[c] for r in rows] for c in SPEC.columns}


def full_rows(n=2, seed=5):
    return synthetic_training_set(TASK, n=n, seed=seed).select(SPEC.columns).to_dicts()


# ---------------------------------------------------------------- the policy


@pytest.mark.parametrize(
    "value, reason",
    [
        (1e40, "magnitude 1e+40 above 1e+12"),
        (-2e12, "magnitude -2e+12 above 1e+12"),
        (float("inf"), "not finite"),
        (float("nan"), "not finite"),
        (10**400, "magnitude above 1e+12"),
    ],
)
def test_values_no_training_row_could_hold_are_refused_naming_the_feature(value, reason):
    rows = full_rows()
    rows[1]["age_years"] = value
    with pytest.raises(InputRefused) as refused:
        check_inputs(columns_of(rows), SPEC, [None, PID])
    (problem,) = refused.value.problems
    assert (problem.feature, problem.row, problem.patient_id) == ("age_years", 1, PID)
    assert reason in problem.reason and "age_years" in str(refused.value)


def test_every_problem_is_listed_and_the_embedding_is_checked_too():
    rows = full_rows(3)
    rows[0]["last_los_days"] = 1e13
    rows[2]["note_embedding"] = [0.0] * (SPEC.embedding_dim - 1) + [float("inf")]
    rows[2]["hba1c_last"] = -1e20
    with pytest.raises(InputRefused) as refused:
        check_inputs(columns_of(rows), SPEC, [None] * 3)
    assert {(p.row, p.feature) for p in refused.value.problems} == {
        (0, "last_los_days"),
        (2, f"note_embedding[{SPEC.embedding_dim - 1}]"),
        (2, "hba1c_last"),
    }


def test_nulls_and_values_at_the_limit_are_not_problems():
    rows = full_rows()
    rows[0] = dict.fromkeys(SPEC.columns)
    rows[1]["inpatient_days_365d"] = MAX_ABS_VALUE
    check_inputs(columns_of(rows), SPEC, [None, None])  # raises nothing


# ---------------------------------------------------------------- the training range


def hand_built_state(with_range=True):
    """A small preprocessor state written by hand: age 20..90, last_los_days 1..30, the rest unranged."""
    numeric = SPEC.numeric
    state = {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "spec": SPEC.to_dict(),
        "fitted_rows": 10,
        "max_categories": 3,
        "numeric": {
            "median": [0.0] * len(numeric),
            "mean": [0.0] * len(numeric),
            "std": [1.0] * len(numeric),
        },
        "vocabularies": {name: [] for name in SPEC.categorical},
    }
    if with_range:
        low, high = [None] * len(numeric), [None] * len(numeric)
        for name, (lo, hi) in {"age_years": (20.0, 90.0), "last_los_days": (1.0, 30.0)}.items():
            low[numeric.index(name)], high[numeric.index(name)] = lo, hi
        state["numeric"].update(min=low, max=high)
    return state


RANGE = Preprocessor.from_state(hand_built_state()).training_range


def out_of_range_columns():
    rows = full_rows(3)
    rows[0]["age_years"], rows[0]["last_los_days"] = 20, 30.0  # at the bounds: in range
    rows[1]["age_years"], rows[1]["last_los_days"] = (
        250,
        None,
    )  # above; null is missing, not clipped
    rows[2]["age_years"], rows[2]["last_los_days"] = 55, 0.25  # below
    return columns_of(rows)


def test_the_hand_built_state_records_its_range_and_an_older_one_none():
    assert RANGE == {"age_years": (20.0, 90.0), "last_los_days": (1.0, 30.0)}
    assert Preprocessor.from_state(hand_built_state(with_range=False)).training_range is None


def test_clip_lists_the_feature_and_bound_and_changes_the_scored_value():
    columns = out_of_range_columns()
    received = {c: list(v) for c, v in columns.items()}
    scored, clipped = apply_training_range(columns, RANGE, "clip", [None, PID, None])
    assert clipped == [
        [],
        [ClippedValue("age_years", 250.0, 90.0)],
        [ClippedValue("last_los_days", 0.25, 1.0)],
    ]
    assert scored["age_years"] == [20, 90.0, 55]
    assert scored["last_los_days"] == [30.0, None, 1.0]
    assert columns == received  # the caller's columns are not modified
    assert DEFAULT_RANGE_POLICY == "clip" == ServiceArgs().range_policy


def test_refuse_is_a_422_naming_the_features_and_their_training_range():
    with pytest.raises(OutOfTrainingRange) as refused:
        apply_training_range(out_of_range_columns(), RANGE, "refuse", [None, PID, None])
    assert isinstance(refused.value, InputRefused)  # answered like every refused value
    assert [(p.row, p.feature, p.patient_id, p.training_range) for p in refused.value.problems] == [
        (1, "age_years", PID, (20.0, 90.0)),
        (2, "last_los_days", None, (1.0, 30.0)),
    ]
    assert "outside the training range [20, 90]" in str(refused.value)
    answer = error_response(refused.value, "rid-9")
    assert answer.status_code == 422
    assert [(r["feature"], r["training_range"]) for r in body(answer)["refused"]] == [
        ("age_years", [20.0, 90.0]),
        ("last_los_days", [1.0, 30.0]),
    ]


def test_off_or_an_older_state_without_range_passes_everything_through():
    columns = out_of_range_columns()
    for ranges, policy in [(RANGE, "off"), (None, "clip"), (None, "refuse")]:
        scored, clipped = apply_training_range(columns, ranges, policy, [None] * 3)
        assert scored == columns and clipped == [[], [], []]
    with pytest.raises(ValueError, match="unknown range policy"):
        apply_training_range(columns, RANGE, "wrap", [None] * 3)
    with pytest.raises(ValidationError):
        ServiceArgs(range_policy="wrap")


def test_impossible_values_are_refused_before_any_range_policy():
    rows = full_rows(1)
    rows[0]["age_years"] = 1e40
    with pytest.raises(InputRefused) as refused:
        check_inputs(columns_of(rows), SPEC, [None])
    assert not isinstance(refused.value, OutOfTrainingRange)


def test_a_row_without_a_required_view_or_without_any_view_is_not_scored():
    views = list(READMISSION_30D.feature_views)
    required = required_views(TASK)
    assert required == ("demographics", "utilization")
    assert insufficient_reason([], required, views) is None
    assert insufficient_reason(["labs", "discharge_note"], required, views) is None
    reason = insufficient_reason(["utilization", "labs"], required, views)
    assert reason and "utilization" in reason and "no risk" in reason
    assert insufficient_reason(views, (), views) == (
        "no feature view has current features: no risk is given"
    )
    with pytest.raises(ValueError, match="unknown task"):
        required_views("no_such_task")


def test_a_prediction_has_a_risk_exactly_when_it_is_scored():
    lineage = dict(
        model_name="m",
        model_version="1",
        feature_service="readmission_v1",
        training_set_digest="sha256:ab",
        landing_snapshot_id="f" * 64,
    )
    assert Prediction(risk=0.2, **lineage).status == "scored"
    assert Prediction(status="insufficient_data", missing_views=["labs"], **lineage).risk is None
    with pytest.raises(ValidationError):
        Prediction(**lineage)  # scored without a risk
    with pytest.raises(ValidationError):
        Prediction(status="insufficient_data", risk=0.3, **lineage)
    with pytest.raises(ValidationError):
        Prediction(risk=float("nan"), **lineage)


# ---------------------------------------------------------------- the Scorer on a real model


TRAINING_FRAME = synthetic_training_set(TASK, n=200, seed=1)


def train_rows(n):
    """Rows the model below was fitted on: inside its training range, so no range policy touches them."""
    return TRAINING_FRAME.filter(split="train").select(SPEC.columns).head(n).to_dicts()


@pytest.fixture(scope="module")
def model():
    frame = TRAINING_FRAME
    tiny = FitConfig(
        max_epochs=1, batch_size=64, tabular_hidden=(8,), note_hidden=(4,), fusion_hidden=(4,)
    )
    return fit_local(frame, TASK, tiny).model


def scorer_of(model, threshold=0.5, **options):
    card = ModelCard(
        "clinical-readmission", "1", TASK, "readmission_v1", "sha256:ab", "f" * 64, threshold
    )
    return Scorer(model, card, **options)


def test_rows_missing_a_required_view_get_insufficient_data_and_no_risk(model):
    rows = train_rows(3)
    for name in VIEWS["utilization"].features:
        rows[1][name] = None
    rows[2] = dict.fromkeys(SPEC.columns)
    for name in VIEWS["discharge_note"].features:  # an optional view missing: still scored
        rows[0][name] = None
    first, second, third = scorer_of(model).score_rows(rows)
    assert first.status == "scored" and 0.0 <= first.risk <= 1.0
    assert first.missing_views == ["discharge_note"] and first.flagged is not None
    assert first.risk == pytest.approx(float(model.predict_raw([rows[0]])[0]), rel=1e-5, abs=1e-7)
    for p in (second, third):
        assert p.status == "insufficient_data" and p.risk is None and p.flagged is None
        assert "utilization" in p.missing_views and "utilization" in p.detail
    assert third.missing_views == list(READMISSION_30D.feature_views)


def test_an_absurd_value_is_refused_not_scored_as_nan(model):
    rows = train_rows(1)
    rows[0]["age_years"] = 10**40
    with pytest.raises(InputRefused, match="age_years"):
        scorer_of(model).score_rows(rows)


def range_of(model):
    """A feature of the model's training range, a value far above it, and its bound."""
    name = "age_years"
    low, high = model.preprocessor.training_range[name]
    return name, high + 1000 * (high - low + 1), high


def test_the_scorer_clips_and_lists_by_default_and_scores_the_bound(model):
    name, far, high = range_of(model)
    rows = train_rows(2)
    rows[1][name] = far
    at_bound = [dict(rows[1], **{name: high})]
    first, second = scorer_of(model).score_rows(rows)
    assert first.clipped == [] and first.range_policy == "clip"
    assert [c.model_dump() for c in second.clipped] == [
        {"feature": name, "value": far, "bound": high}
    ]
    assert second.risk == pytest.approx(float(model.predict_raw(at_bound)[0]), rel=1e-5, abs=1e-7)
    unclipped = scorer_of(model, range_policy="off").score_rows(rows)[1]
    assert unclipped.clipped == [] and unclipped.range_policy == "off"
    assert unclipped.risk == pytest.approx(
        float(model.predict_raw([rows[1]])[0]), rel=1e-5, abs=1e-7
    )
    assert unclipped.risk != pytest.approx(second.risk, abs=1e-6)


def test_the_scorer_refuses_out_of_range_values_by_policy(model):
    name, far, high = range_of(model)
    rows = train_rows(1)
    rows[0][name] = far
    with pytest.raises(OutOfTrainingRange, match=name) as refused:
        scorer_of(model, range_policy="refuse").score_rows(rows)
    assert refused.value.problems[0].training_range[1] == high
    assert scorer_of(model, range_policy="refuse").score_rows(train_rows(1))[0].clipped == []


def test_a_model_without_a_recorded_range_is_scored_unclipped_and_says_so(model):
    older_state = model.preprocessor.state_dict()
    del older_state["numeric"]["min"], older_state["numeric"]["max"]
    older = type(model)(**{**model.hparams, "preprocessor": older_state})
    older.load_state_dict(model.state_dict())
    name, far, _ = range_of(model)
    rows = train_rows(1)
    rows[0][name] = far
    for policy in ("clip", "refuse"):
        (answer,) = scorer_of(older, range_policy=policy).score_rows(rows)
        assert answer.clipped == [] and answer.range_policy == "unavailable"
        assert answer.risk == pytest.approx(float(older.predict_raw(rows)[0]), rel=1e-5, abs=1e-7)


def test_a_model_that_answers_nan_is_the_services_error(model):
    broken = type(model)(**model.hparams)
    broken.load_state_dict(model.state_dict())
    with torch.no_grad():
        broken.head.bias.fill_(float("nan"))
    with pytest.raises(ModelOutputError, match="not a probability"):
        scorer_of(broken).score_rows(train_rows(1))


# ---------------------------------------------------------------- the answers


def body(response):
    return json.loads(response.body)


def test_errors_answer_404_422_and_500_with_the_request_id():
    unknown = error_response(UnknownPatients([PID]), "rid-1")
    assert unknown.status_code == 404 and body(unknown)["unknown_patient_ids"] == [PID]
    refused = error_response(InputRefused([InputProblem(0, "age_years", "is not finite")]), "rid-2")
    assert refused.status_code == 422
    assert body(refused)["refused"][0]["feature"] == "age_years"
    assert body(refused)["request_id"] == "rid-2"
    failed = error_response(ModelOutputError("model m v1 returned risk nan for row 0"), "rid-3")
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "rid-3"
    assert body(failed)["request_id"] == "rid-3" and "returned risk nan" in body(failed)["error"]
    assert "not a problem with the request" in body(failed)["error"]


def test_an_unexpected_failure_is_a_500_that_does_not_echo_internals():
    failed = error_response(ConnectionError("redis://:secret@10.0.0.5:6379 refused"), "rid-4")
    assert failed.status_code == 500
    assert "secret" not in body(failed)["error"] and "ConnectionError" in body(failed)["error"]
