"""What the operator sees of `pipeline run`: the exit policy for tasks a cohort cannot train, the words of a
failed trainability check, step lines, full asset keys off a terminal, third-party warnings kept out, and a
Dagster instance whose UI opens without the community dialog."""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from cli.run_view import PROJECT_ROOT, StepView, print_outcome, print_wide, quiet_third_party
from clinical_mlops.settings import Settings
from orchestration.run import PipelineSummary, StepUpdate, prepare_dagster_home, trainability_reason

LONG_KEY = "gold/index_events_readmission_30d"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare_dagster_home writes DAGSTER_HOME and ours into os.environ: delenv records them for the restore."""
    for key in {*os.environ, "DAGSTER_HOME", "CLINICAL_MLOPS_HOME"}:
        if key.startswith(("CLINICAL_MLOPS_", "DAGSTER_")):
            monkeypatch.delenv(key, raising=False)


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=80, color_system=None), out  # not a terminal: a pipe, a log file


def _summary(**fields) -> PipelineSummary:
    return PipelineSummary(run_id="r", success=False, **fields)


BLOCKED = {
    "t2d_onset_1y": {
        "check": "gold/training_set_t2d_onset_1y:label_prevalence",
        "reason": "validation split measured 0 positive of 31 rows vs threshold at least 1 positive and 1 "
        "negative",
        "measured": {},
        "not_built": ["models/clinical-t2d-onset"],
    }
}
TRAINED = {"clinical-readmission": {"model_version": "1"}}


# ---------------------------------------------------------------- the exit policy


def test_a_successful_run_exits_0() -> None:
    assert PipelineSummary(run_id="r", success=True).exit_code() == 0
    assert PipelineSummary(run_id="r", success=True).exit_code(strict=True) == 0


def test_a_task_the_cohort_cannot_train_beside_a_trained_one_exits_0_unless_strict() -> None:
    summary = _summary(blocked=BLOCKED, models=TRAINED)
    assert summary.trained() == ["readmission_30d"]
    assert summary.exit_code() == 0
    assert summary.exit_code(strict=True) == 1


def test_no_trainable_task_at_all_exits_1() -> None:
    assert _summary(blocked=BLOCKED).exit_code() == 1


def test_any_other_failure_exits_1_even_beside_a_blocked_task() -> None:
    failed = [{"step": "bentos__x", "error": "boom", "error_class": "RuntimeError"}]
    assert _summary(blocked=BLOCKED, models=TRAINED, failed_steps=failed).exit_code() == 1
    assert _summary(models=TRAINED, failed_steps=failed).exit_code() == 1
    assert _summary(blocked=BLOCKED, models=TRAINED, untrained=["x"]).exit_code() == 1
    assert _summary(failure="run failed").exit_code() == 1  # failed, and nothing says why


def test_the_outcome_names_the_task_the_check_the_measure_and_what_succeeded() -> None:
    console, out = _console()
    code = print_outcome(console, _summary(blocked=BLOCKED, models=TRAINED), strict=False)
    text = out.getvalue()
    assert code == 0
    assert "task readmission_30d: trained" in text
    assert (
        "task t2d_onset_1y: not trainable on this cohort: gold/training_set_t2d_onset_1y:label_prevalence "
        "validation split measured 0 positive of 31 rows vs threshold" in text
    )
    assert "not built: models/clinical-t2d-onset" in text
    assert "exit 0" in text

    console, out = _console()
    assert print_outcome(console, _summary(blocked=BLOCKED, models=TRAINED), strict=True) == 1
    assert "--strict" in out.getvalue() and "exit 1" in out.getvalue()

    console, out = _console()
    assert print_outcome(console, _summary(blocked=BLOCKED), strict=False) == 1
    assert "no task is trainable on this cohort" in out.getvalue()


# ---------------------------------------------------------------- the words of a failed check


def test_a_split_without_positives_is_named_with_its_count_and_size() -> None:
    reason = trainability_reason(
        "label_prevalence",
        {
            "prevalence": 0.0132,
            "range": "0.005-0.5",
            "positives_by_split": {"train": 4, "validation": 0, "test": 2},
            "splits_with_one_class": "validation",
        },
        {"train": 188, "validation": 72, "test": 194},
    )
    assert reason == (
        "validation split measured 0 positive of 72 rows vs threshold at least 1 positive and 1 negative "
        "(no model fit or selection without both classes)"
    )


def test_a_prevalence_outside_the_range_is_named_with_the_range() -> None:
    reason = trainability_reason(
        "label_prevalence",
        {
            "prevalence": 0.002,
            "range": "0.005-0.5",
            "positives_by_split": {"train": 1, "validation": 1, "test": 0},
            "splits_with_one_class": "test",
        },
        {"train": 300, "validation": 100, "test": 100},
    )
    assert reason == "label prevalence measured 0.2% vs threshold 0.5%-50.0%"


# ---------------------------------------------------------------- while it runs, and the table


def test_step_lines_say_what_finished_with_rows_checks_and_causes() -> None:
    console, out = _console()
    with StepView(console) as view:
        view(StepUpdate("plan", total=3))
        view(StepUpdate("started", "bronze_tables", total=3))
        view(
            StepUpdate(
                "succeeded",
                "bronze_tables",
                total=3,
                done=1,
                seconds=2.5,
                assets=("bronze/patients", "bronze/encounters"),
                rows=1100,
            )
        )
        view(StepUpdate("warning", "monitoring__feature_drift", message="drift not judged"))
        view(
            StepUpdate(
                "failed",
                "gold__training_set_t2d_onset_1y_label_prevalence",
                total=3,
                done=2,
                seconds=0.4,
                failed_checks=("gold/training_set_t2d_onset_1y:label_prevalence (ERROR)",),
                message="1 blocking asset check failed\nmore",
            )
        )
    lines = out.getvalue().splitlines()
    assert "3 steps to run" in lines[0]
    assert "1/3  done   bronze_tables 2.5s  2 assets, 1,100 rows" in lines[1]
    assert "warning monitoring__feature_drift: drift not judged" in lines[2]
    assert (
        "2/3  FAILED gold__training_set_t2d_onset_1y_label_prevalence 0.4s  check failed: "
        "gold/training_set_t2d_onset_1y:label_prevalence (ERROR)" in lines[3]
    )
    assert lines[4].strip() == "1 blocking asset check failed"


def test_the_summary_table_keeps_full_asset_keys_off_a_terminal() -> None:
    console, out = _console()
    table = Table("asset", "Delta version", "rows", "data version", title="run " + "x" * 36)
    table.columns[0].overflow = "fold"
    for i in range(3):
        table.add_row(LONG_KEY + "_" * 30 + str(i), "0", "1,234", "0123456789abcdef")
    print_wide(console, table)
    text = out.getvalue()
    for i in range(3):
        assert LONG_KEY + "_" * 30 + str(i) in text
    assert "…" not in text
    assert console.width == 80  # restored


# ---------------------------------------------------------------- third-party noise


SITE = "/somewhere/.venv/lib/python3.11/site-packages"


def _warn_from(filename: str) -> None:
    warnings.warn_explicit("deprecated thing", DeprecationWarning, filename, 1)


def test_third_party_warnings_and_info_logs_are_kept_out_unless_verbose() -> None:
    before = logging.getLogger("mlflow").level
    ours = str(PROJECT_ROOT / "feature_store" / "offline.py")
    with warnings.catch_warnings(
        record=True
    ) as caught:  # record=True: shown warnings land in caught
        with quiet_third_party(verbose=False):
            # a library that puts its own filter in front (Feast does, when imported)
            warnings.simplefilter("always", DeprecationWarning)
            _warn_from(f"{SITE}/ibis/backends/duckdb/__init__.py")
            _warn_from(f"{SITE}/sqlalchemy/orm/strategies.py")
            _warn_from(f"{SITE}/ray/data/context.py")
            _warn_from(str(PROJECT_ROOT / ".venv" / "lib" / "x.py"))  # the project's own virtualenv
            _warn_from(ours)  # ours: shown
            assert logging.getLogger("mlflow").getEffectiveLevel() == logging.WARNING
        with quiet_third_party(verbose=True):
            warnings.simplefilter("always", DeprecationWarning)
            _warn_from(f"{SITE}/ibis/backends/duckdb/__init__.py")
    assert [w.filename for w in caught] == [ours, f"{SITE}/ibis/backends/duckdb/__init__.py"]
    assert logging.getLogger("mlflow").level == before  # restored


# ---------------------------------------------------------------- the Dagster instance


def test_the_instance_opens_the_ui_without_the_community_dialog_and_without_telemetry(
    tmp_path: Path,
) -> None:
    from dagster import DagsterInstance

    settings = Settings(home=tmp_path)
    prepare_dagster_home(settings)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False


def _toggle_mlflow_event_logs() -> None:
    from mlflow.utils.autologging_utils.logging_and_warnings import (
        MlflowEventsAndWarningsBehaviorGlobally,
    )

    with MlflowEventsAndWarningsBehaviorGlobally(True, False, False):
        pass


def test_mlflow_event_prints_are_kept_out_but_its_warnings_shown_unless_verbose(capsys) -> None:
    from mlflow.utils.logging_utils import eprint

    bars = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    with quiet_third_party(verbose=False):
        _toggle_mlflow_event_logs()  # what importing mlflow.types.responses does
        eprint("Successfully registered model 'x'.")
        logging.getLogger("mlflow.store.db.utils").info(
            "Creating initial MLflow database tables..."
        )
        logging.getLogger("mlflow.store").warning("the store is read-only")
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    err = capsys.readouterr().err
    assert "Successfully registered" not in err and "Creating initial" not in err
    assert "WARNING mlflow.store: the store is read-only" in err
    assert os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR") == bars  # restored

    with quiet_third_party(verbose=True):
        eprint("Successfully registered model 'x'.")
    assert "Successfully registered model 'x'." in capsys.readouterr().err
