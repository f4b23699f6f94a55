"""What an evaluation reads: the validation and test splits of the model's own pinned training set, with the
subgroup attributes beside them.

``sex`` and ``age_band`` are model inputs already (demographics view, as of the index event). Race and
ethnicity are not model inputs; they come from silver ``patients`` at the version the training set recorded
(``lineage.silver.patients``), joined by the patient pseudonym, and are combined OMB-style into one
``race_ethnicity`` attribute (Hispanic or Latino of any race, otherwise the race). Nothing below silver is
read: the attributes are de-identified fields the policy keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from features.spec import ENTITY_KEY
from training.data import read_training_set
from training.spec import input_spec

ATTRIBUTES = ("sex", "age_band", "race_ethnicity")
HISPANIC = "Hispanic or Latino"


@dataclass(frozen=True)
class EvaluationData:
    """Feature rows (model inputs) plus ``label`` and the subgroup attributes, per split."""

    validation: pl.DataFrame
    test: pl.DataFrame
    silver_patients_version: int


def race_ethnicity(patients: pl.DataFrame) -> pl.DataFrame:
    """``patient_id, race_ethnicity`` from silver patients' ``race`` and ``ethnicity``."""
    return patients.select(
        ENTITY_KEY,
        pl.when(pl.col("ethnicity") == HISPANIC)
        .then(pl.lit(HISPANIC))
        .otherwise(pl.col("race"))
        .alias("race_ethnicity"),
    )


def evaluation_data(
    training_set_uri: str,
    training_set_version: int,
    task: str,
    silver_dir: Path | str,
    silver_patients_version: int,
) -> EvaluationData:
    spec = input_spec(task)
    wanted = list(
        dict.fromkeys(
            [ENTITY_KEY, "event_timestamp", "encounter_id", "label", "split", *spec.columns]
        )
    )
    frame = read_training_set(training_set_uri, training_set_version, columns=wanted)
    absent = [c for c in wanted if c not in frame.columns]
    if absent:
        raise ValueError(
            f"training set {training_set_uri}@v{training_set_version} lacks columns {absent}"
        )
    patients = pl.from_arrow(
        DeltaTable(
            str(Path(silver_dir) / "patients"), version=silver_patients_version
        ).to_pyarrow_table(columns=[ENTITY_KEY, "race", "ethnicity"])
    )
    frame = frame.join(race_ethnicity(patients), on=ENTITY_KEY, how="left")
    splits = {
        name: frame.filter(pl.col("split") == name).sort("event_timestamp", ENTITY_KEY)
        for name in ("validation", "test")
    }
    for name, rows in splits.items():
        if rows.height == 0:
            raise ValueError(
                f"training set {training_set_uri}@v{training_set_version} has no {name} rows"
            )
    return EvaluationData(splits["validation"], splits["test"], silver_patients_version)
