"""The production profile's settings: the Dagster instance config they render (PostgreSQL storage through an env
var, never the URL in the file), its rewrite when the storage changes, and the MLflow artifact location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from clinical_mlops.settings import Settings, postgres_driver_url
from orchestration.run import DAGSTER_POSTGRES_ENV, dagster_yaml, prepare_dagster_home

SECRET_URL = "postgresql://dagster:s3cr3t-pw@db.internal:5432/dagster"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: start from none of ours (monkeypatch restores what prepare_* sets)."""
    # prepare_dagster_home writes DAGSTER_HOME and ours into os.environ: delenv records them for the restore
    for key in {*os.environ, "DAGSTER_HOME", "CLINICAL_MLOPS_HOME", DAGSTER_POSTGRES_ENV}:
        if key.startswith(("CLINICAL_MLOPS_", "DAGSTER_")):
            monkeypatch.delenv(key, raising=False)


def test_default_instance_is_sqlite_under_the_home(tmp_path: Path) -> None:
    config = yaml.safe_load(dagster_yaml(Settings(home=tmp_path)))
    assert "storage" not in config  # Dagster's default: SQLite under DAGSTER_HOME
    assert config["telemetry"] == {"enabled": False}


def test_postgres_storage_names_the_env_var_never_the_url(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, dagster_postgres_url=SECRET_URL)
    text = dagster_yaml(settings)
    assert yaml.safe_load(text)["storage"] == {
        "postgres": {"postgres_url": {"env": DAGSTER_POSTGRES_ENV}}
    }
    assert "s3cr3t" not in text and "db.internal" not in text
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())


def test_the_rendered_postgres_config_is_valid_for_dagster(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    settings = Settings(home=tmp_path, dagster_postgres_url=SECRET_URL)
    prepare_dagster_home(settings)
    config, _ = dagster_instance_config(str(settings.dagster_home))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": DAGSTER_POSTGRES_ENV}


def test_prepare_rewrites_the_config_when_the_storage_changes_and_keeps_secrets_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dagster" / "dagster.yaml"
    prepare_dagster_home(Settings(home=tmp_path))
    assert "storage" not in yaml.safe_load(path.read_text())

    prepare_dagster_home(Settings(home=tmp_path, dagster_postgres_url=SECRET_URL))
    assert "postgres" in yaml.safe_load(path.read_text())["storage"]
    # the process (and the children it starts: the UI's code server) get the URL through the environment
    assert os.environ[DAGSTER_POSTGRES_ENV] == postgres_driver_url(SECRET_URL)
    assert os.environ["DAGSTER_HOME"] == str(tmp_path / "dagster")
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert "s3cr3t" not in written

    mtime = path.stat().st_mtime_ns
    prepare_dagster_home(
        Settings(home=tmp_path, dagster_postgres_url=SECRET_URL)
    )  # unchanged: not rewritten
    assert path.stat().st_mtime_ns == mtime

    monkeypatch.delenv(
        DAGSTER_POSTGRES_ENV
    )  # (settings read it: prepare_dagster_home exported it above)
    prepare_dagster_home(Settings(home=tmp_path))  # back to the embedded default
    assert "storage" not in yaml.safe_load(path.read_text())


def test_dagster_postgres_url_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLINICAL_MLOPS_DAGSTER_POSTGRES_URL", SECRET_URL)
    settings = Settings(home=tmp_path)
    assert settings.dagster_postgres_url is not None
    assert settings.dagster_postgres_url.get_secret_value() == SECRET_URL


@pytest.mark.parametrize(
    ("tracking_uri", "artifact_root", "expected"),
    [
        (None, None, "HOME/mlflow/artifacts"),  # SQLite under the home
        (
            "postgresql://u:p@127.0.0.1:5432/mlflow",
            None,
            "HOME/mlflow/artifacts",
        ),  # a database: still explicit
        ("sqlite:////srv/mlflow.db", None, "HOME/mlflow/artifacts"),
        ("http://mlflow.internal:5000", None, None),  # a tracking server decides
        ("https://mlflow.internal", "s3://bucket/mlflow", "s3://bucket/mlflow"),
        ("postgresql://u:p@127.0.0.1:5432/mlflow", "s3://bucket/mlflow", "s3://bucket/mlflow"),
        ("postgresql://u:p@127.0.0.1:5432/mlflow", "relative/artifacts", "CWD/relative/artifacts"),
    ],
)
def test_mlflow_artifact_location(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tracking_uri: str | None,
    artifact_root: str | None,
    expected: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(
        home=tmp_path / "home", mlflow_tracking_uri=tracking_uri, mlflow_artifact_root=artifact_root
    )
    location = settings.mlflow_artifact_location
    if expected is None:
        assert location is None
    else:
        expected = expected.replace("HOME", str((tmp_path / "home").resolve())).replace(
            "CWD", str(tmp_path.resolve())
        )
        assert location == expected
        assert location.startswith(("/", "s3://"))  # never relative to the working directory
    assert settings.tracking_uri == (
        postgres_driver_url(tracking_uri)
        if tracking_uri
        else f"sqlite:///{tmp_path.resolve() / 'home' / 'mlflow' / 'mlflow.db'}"
    )


def test_postgres_urls_name_an_installed_driver() -> None:
    import importlib.util

    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; this venv has psycopg2 (dagster-postgres' requirement)
    has_psycopg3 = importlib.util.find_spec("psycopg") is not None
    url = postgres_driver_url("postgresql://u@127.0.0.1:5432/mlflow")
    assert url == (
        "postgresql://u@127.0.0.1:5432/mlflow"
        if has_psycopg3
        else "postgresql+psycopg2://u@127.0.0.1:5432/mlflow"
    )
    for kept in (
        "postgresql+psycopg2://u@h/db",
        "sqlite:////x/mlflow.db",
        "http://mlflow:5000",
        "file:///x",
    ):
        assert postgres_driver_url(kept) == kept
    assert Settings(mlflow_tracking_uri="postgresql://u@h/db").tracking_uri == postgres_driver_url(
        "postgresql://u@h/db"
    )


def test_model_card_descriptions_fit_mlflows_column() -> None:
    from evaluation.registry import MAX_DESCRIPTION, truncate_description

    # PostgreSQL enforces model_versions.description VARCHAR(5000) (SQLite does not): a long card must still fit
    card = "# Model card\n" + "row\n" * 3000
    assert len(truncate_description(card)) == MAX_DESCRIPTION
    assert truncate_description(card).endswith("evaluation/model_card.md)")
    assert truncate_description("short card") == "short card"
