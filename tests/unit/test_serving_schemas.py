"""Request validation of the prediction service: pseudonyms only, rows with exactly the task's features and
types, embeddings of the right width, batch bounds; every error names its field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.schemas import PredictByIdRequest, Prediction, schemas_for
from training.spec import input_spec

TASK = "readmission_30d"
PID = "pat_" + "0123456789abcdef01234567"


@pytest.fixture(scope="module")
def schemas():
    return schemas_for(TASK, 4)


@pytest.fixture
def row():
    spec = input_spec(TASK)
    values = {"int64": 3, "float64": 1.5, "bool": True, "string": "alpha"}
    out = {name: values.get(dtype) for name, dtype in spec.features}
    out[spec.embedding] = [0.0] * spec.embedding_dim
    return out


def fields_of(error: ValidationError) -> list[tuple]:
    return [tuple(map(str, e["loc"])) for e in error.errors()]


@pytest.mark.parametrize(
    "bad",
    [
        "12345",
        "MRN-001",
        "pat_XYZ",
        "pat_" + "0" * 23,
        "pat_" + "0" * 25,
        "PAT_" + "0" * 24,
        " pat_" + "0" * 24,
        "pat_" + "G" * 24,
        "",
        "enc_" + "0" * 24,
    ],
)
def test_only_pseudonyms_are_accepted(bad):
    with pytest.raises(ValidationError) as err:
        PredictByIdRequest.model_validate_json(f'{{"patient_id": "{bad}"}}')
    assert fields_of(err.value) == [("patient_id",)]


def test_a_pseudonym_is_accepted_and_extra_keys_are_refused():
    assert PredictByIdRequest.model_validate({"patient_id": PID}).patient_id == PID
    with pytest.raises(ValidationError) as err:
        PredictByIdRequest.model_validate({"patient_id": PID, "name": "Jane Doe"})
    assert fields_of(err.value) == [("name",)]
    with pytest.raises(ValidationError):
        PredictByIdRequest.model_validate({"patient_id": 12345})


def test_the_row_model_has_every_input_feature_typed(schemas, row):
    spec = input_spec(TASK)
    assert list(schemas.Row.model_fields) == spec.columns
    parsed = schemas.PredictRowRequest.model_validate({"features": row}).features
    assert parsed.model_dump() == row
    nulls = dict.fromkeys(spec.columns)  # every value may be unknown
    assert (
        schemas.PredictRowRequest.model_validate({"features": nulls}).features.model_dump() == nulls
    )


def test_a_misspelled_feature_is_an_error_on_both_names(schemas, row):
    row["age_yaers"] = row.pop("age_years")
    with pytest.raises(ValidationError) as err:
        schemas.PredictRowRequest.model_validate({"features": row})
    assert set(fields_of(err.value)) == {("features", "age_yaers"), ("features", "age_years")}


def test_an_omitted_feature_is_an_error_not_a_silent_null(schemas, row):
    del row["charlson_score"]
    with pytest.raises(ValidationError) as err:
        schemas.PredictRowRequest.model_validate({"features": row})
    assert fields_of(err.value) == [("features", "charlson_score")]
    assert err.value.errors()[0]["type"] == "missing"


@pytest.mark.parametrize("width", [0, 255, 257])
def test_the_embedding_must_have_its_exact_width(schemas, row, width):
    row["note_embedding"] = [0.1] * width
    with pytest.raises(ValidationError) as err:
        schemas.PredictRowRequest.model_validate({"features": row})
    assert fields_of(err.value) == [("features", "note_embedding")]


@pytest.mark.parametrize(
    "feature, value",
    [
        ("age_years", "70"),
        ("age_years", 70.5),
        ("age_years", True),  # int64
        ("last_los_days", "2.5"),
        ("last_los_days", True),  # float64
        ("last_stay_elective", 1),
        ("last_stay_elective", "true"),  # bool
        ("sex", 1),  # string
    ],
)
def test_values_of_the_wrong_type_are_refused(schemas, row, feature, value):
    row[feature] = value
    with pytest.raises(ValidationError) as err:
        schemas.PredictRowRequest.model_validate({"features": row})
    assert fields_of(err.value) == [("features", feature)]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(schemas, row, literal):
    import json

    text = json.dumps({"features": row}).replace(
        '"last_los_days": 1.5', f'"last_los_days": {literal}'
    )
    with pytest.raises(ValidationError) as err:
        schemas.PredictRowRequest.model_validate_json(text)
    assert fields_of(err.value) == [("features", "last_los_days")]


def test_an_int_is_a_valid_float(schemas, row):
    row["last_los_days"] = 2
    assert schemas.PredictRowRequest.model_validate({"features": row}).features.last_los_days == 2.0


def test_batches_hold_one_to_max_batch_items(schemas, row):
    assert (
        len(schemas.PredictByIdBatchRequest.model_validate({"patient_ids": [PID] * 4}).patient_ids)
        == 4
    )
    assert len(schemas.PredictRowBatchRequest.model_validate({"rows": [row] * 4}).rows) == 4
    for bad in ([], [PID] * 5):
        with pytest.raises(ValidationError) as err:
            schemas.PredictByIdBatchRequest.model_validate({"patient_ids": bad})
        assert fields_of(err.value) == [("patient_ids",)]
    for bad in ([], [row] * 5):
        with pytest.raises(ValidationError) as err:
            schemas.PredictRowBatchRequest.model_validate({"rows": bad})
        assert fields_of(err.value) == [("rows",)]
    with pytest.raises(ValidationError) as err:
        schemas.PredictByIdBatchRequest.model_validate({"patient_ids": [PID, "MRN-1"]})
    assert fields_of(err.value) == [("patient_ids", "1")]


def test_schemas_are_cached_per_task_and_limit():
    assert schemas_for(TASK, 4) is schemas_for(TASK, 4)
    assert (
        schemas_for(TASK, 8).PredictByIdBatchRequest
        is not schemas_for(TASK, 4).PredictByIdBatchRequest
    )
    with pytest.raises(ValueError):
        schemas_for(TASK, 0)
    with pytest.raises(ValueError, match="unknown task"):
        schemas_for("no_such_task", 4)


def test_a_prediction_carries_the_model_and_its_lineage():
    p = Prediction(
        risk=0.25,
        patient_id=PID,
        model_name="clinical-readmission",
        model_version="3",
        feature_service="readmission_v1",
        training_set_digest="sha256:ab",
        landing_snapshot_id="f" * 64,
    )
    assert p.model_dump()["model_version"] == "3" and p.flagged is None and p.missing_views == []
    with pytest.raises(ValidationError):
        Prediction(**{**p.model_dump(), "risk": 1.5})
