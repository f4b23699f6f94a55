"""The one typed settings object, read when a command or resource starts (never at import time)."""

from __future__ import annotations

import os
import stat
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Platform configuration. Every field can be set with an env var `CLINICAL_MLOPS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="CLINICAL_MLOPS_", extra="ignore")

    home: Path = Field(
        default=Path(".clinical-mlops"),
        description=(
            "Lakehouse root: landing/, bronze/, silver/, gold/ and the homes of Dagster, MLflow, Feast, "
            "BentoML."
        ),
    )
    landing_dir: Path | None = Field(
        default=None,
        description="Where the pipeline reads raw exports from (default: <home>/landing).",
    )
    profile: Literal["demo", "dev", "prod"] = Field(
        default="demo",
        description="`demo` may create local secrets; other profiles refuse to run without them.",
    )
    demo_patients: int = Field(default=1000, ge=1, description="Patients the demo generates.")
    demo_seed: int = Field(default=42, description="Seed of the demo cohort.")
    quarantine_warn_rate: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Quarantined/read ratio above which the ingestion check warns.",
    )
    deid_key: SecretStr | None = Field(
        default=None,
        description="De-identification HMAC key (hex or text, >= 16 bytes); required outside the demo.",
    )
    deid_date_mode: Literal["safe_harbor", "shift"] = Field(
        default="shift",
        description="Dates to year (safe_harbor) or shifted by a keyed per-patient offset (shift).",
    )
    deid_workers: int = Field(
        default=2,
        ge=1,
        description="Processes de-identifying note text (each loads the gazetteers once).",
    )
    online_store: Literal["packed", "sqlite", "redis"] = Field(
        default="packed",
        description="Feast online store: `packed` (SQLite under the Feast home, one row per patient "
        "and view: feature_store/packed_store.py), `sqlite` (Feast's own SQLite layout, "
        "one row per patient and feature) or `redis` (production).",
    )
    redis_url: SecretStr | None = Field(
        default=None, description="redis://[:password@]host:port/db of the Redis online store."
    )
    ray_address: str | None = Field(
        default=None,
        description="An existing Ray cluster (ray://host:10001 or auto); default: local Ray, 127.0.0.1 only.",
    )
    ray_num_workers: int = Field(default=2, ge=1, description="Ray Train workers (DDP ranks).")
    ray_use_gpu: bool | None = Field(
        default=None, description="Train on GPUs; default: when this machine has CUDA devices."
    )
    ray_cpus_per_worker: float = Field(
        default=1.0, gt=0, description="CPUs each Ray Train worker reserves."
    )
    ray_checkpoint_interval_s: float = Field(
        default=10.0,
        ge=0,
        description="Ray Train reports a checkpoint at the first epoch end this many seconds after "
        "the last one, and after the last epoch (0: every epoch); a replaced worker "
        "group resumes from it, so at most this much training is lost.",
    )
    ray_storage: str | None = Field(
        default=None,
        description="Ray Train checkpoints: a path or object-store URI (default: <home>/ray).",
    )
    train_max_epochs: int = Field(
        default=20, ge=1, description="Epochs at most (early stopping on val AUROC)."
    )
    train_seed: int = Field(
        default=42, description="Seed of weight initialisation, dropout and data order."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking server; default: SQLite and artifacts under <home>/mlflow.",
    )
    eval_bootstrap: int = Field(
        default=1000,
        ge=100,
        description="Bootstrap resamples behind every 95% confidence interval of an evaluation.",
    )
    serve_host: str = Field(
        default="127.0.0.1", description="Interface the model server binds (loopback by default)."
    )
    serve_port: int = Field(
        default=3100, ge=1, le=65535, description="Port of `clinical-mlops serve`."
    )
    serve_max_batch: int = Field(
        default=256, ge=1, description="Most patients or rows in one batch request."
    )
    serve_max_request_bytes: int = Field(
        default=2_000_000,
        ge=1024,
        description="Largest request body the model server accepts (413 above it).",
    )
    serve_timeout_s: float = Field(
        default=10.0, gt=0, description="Request timeout of the model server (seconds)."
    )
    serve_enforce_ttl: bool | None = Field(
        default=None,
        description="Serve only online features within their view's TTL of now (default: on, except "
        "in the demo profile, whose historical cohort ends before today minus the TTLs).",
    )
    # --- OpenLineage (audit/openlineage.py, orchestration/openlineage_hooks.py) ---
    openlineage_enabled: bool = Field(
        default=True,
        description="Emit OpenLineage START and COMPLETE/FAIL run events for every asset step.",
    )
    openlineage_url: str | None = Field(
        default=None,
        description="OpenLineage HTTP endpoint (Marquez-compatible, e.g. http://localhost:5000; events "
        "are POSTed to <url>/api/v1/lineage); default: append to the JSONL file.",
    )
    openlineage_api_key: SecretStr | None = Field(
        default=None, description="Bearer API key of the OpenLineage endpoint (optional)."
    )
    openlineage_file: Path | None = Field(
        default=None,
        description="JSONL file events are appended to when no URL is set "
        "(default: <home>/openlineage/events.jsonl).",
    )
    openlineage_namespace: str = Field(
        default="clinical-mlops", description="OpenLineage namespace of the pipeline's jobs."
    )
    openlineage_timeout_s: float = Field(
        default=5.0, gt=0, description="Timeout of one POST to the OpenLineage endpoint (seconds)."
    )

    @property
    def openlineage_events_file(self) -> Path:
        """Where the file transport appends events (one JSON event a line)."""
        return (
            self.openlineage_file.expanduser().resolve()
            if self.openlineage_file
            else self.root / "openlineage" / "events.jsonl"
        )

    # --- automation (orchestration/automation.py): schedule, sensors, drift, retries ---
    drift_psi_threshold: float = Field(
        default=0.2,
        gt=0,
        description="Population stability index above which a feature counts as drifted and the "
        "drift sensor requests a retraining run (read when the sensor evaluates).",
    )
    drift_recent_days: int = Field(
        default=30,
        ge=1,
        description="Recent window of the drift check: each patient's latest gold feature row "
        "within this many days of the newest event_timestamp.",
    )
    drift_bins: int = Field(
        default=10, ge=2, description="Quantile bins (from the reference) of numeric PSI."
    )
    drift_min_rows: int = Field(
        default=50,
        ge=1,
        description="Fewest recent rows (and reference rows) for a task's drift to be judged.",
    )
    landing_settle_s: float = Field(
        default=30.0,
        ge=0,
        description="The landing sensor waits until no FHIR file changed for this long "
        "(an export still being copied is not a snapshot).",
    )
    # --- production profile (PostgreSQL for Dagster and MLflow, Redis online store) ---
    dagster_postgres_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user[:password]@host:port/db of the Dagster instance storage (runs, "
        "event log, schedules); default: SQLite under <home>/dagster. dagster.yaml names "
        "this env var (CLINICAL_MLOPS_DAGSTER_POSTGRES_URL), never the URL itself.",
    )
    mlflow_artifact_root: str | None = Field(
        default=None,
        description="Artifact location of the MLflow experiments the platform creates (a path or an "
        "s3://... URI); default: <home>/mlflow/artifacts, except with an http(s) tracking "
        "server, which then decides (its --artifacts-destination).",
    )
    ingest_batch_rows: int = Field(
        default=50_000, ge=1, description="Resources parsed per Arrow batch during ingestion."
    )
    engine: Literal["local", "spark"] = Field(
        default="local",
        description="Engine of ingestion parsing and de-identification: `local` (Arrow/Polars in "
        "process) or `spark` (the same Arrow-batch functions under PySpark mapInArrow; "
        "needs Java 17+). Both write the same bronze and silver tables.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master of the spark engine: local[N] (in process), spark://host:7077 "
        "or k8s://https://... (a cluster whose executors share the lakehouse path).",
    )
    shared_group: str | None = Field(
        default=None,
        description="Unix group that may read the lakehouse home (a shared deployment): folders "
        "0750 (setgid, so new files inherit the group) and files 0640, owned by this group; "
        "default: owner-only, folders 0700 and files 0600 (umask 077).",
    )

    @field_validator("shared_group")
    @classmethod
    def _known_group(cls, value: str | None) -> str | None:
        if value is not None:
            import grp

            try:
                grp.getgrnam(value)
            except KeyError:
                raise ValueError(f"no such group on this host: {value!r}") from None
        return value

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def landing(self) -> Path:
        return (
            self.landing_dir.expanduser().resolve() if self.landing_dir else self.root / "landing"
        )

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def silver(self) -> Path:
        return self.root / "silver"

    @property
    def gold(self) -> Path:
        return self.root / "gold"

    @property
    def deid_key_file(self) -> Path:
        """Where the demo profile keeps the local de-identification key it creates (owner-only)."""
        return self.root / "secrets" / "deid.key"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def mlflow_home(self) -> Path:
        return self.root / "mlflow"

    @property
    def ray_storage_path(self) -> str:
        return self.ray_storage or str(self.root / "ray")

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return postgres_driver_url(self.mlflow_tracking_uri)
        return f"sqlite:///{self.mlflow_home / 'mlflow.db'}"

    @property
    def mlflow_artifact_location(self) -> str | None:
        """Where experiments this process creates keep their artifacts: set explicitly for a database backend
        (SQLite or postgresql://...: MLflow's default is relative to the working directory); None (the server
        decides) only for an http(s) tracking server without ``mlflow_artifact_root``."""
        if self.mlflow_artifact_root:
            root = self.mlflow_artifact_root
            return root if "://" in root else str(Path(root).expanduser().resolve())
        if self.mlflow_tracking_uri and self.mlflow_tracking_uri.startswith(
            ("http://", "https://")
        ):
            return None
        return str(self.mlflow_home / "artifacts")

    @property
    def feast_home(self) -> Path:
        return self.root / "feast"

    @property
    def serving_enforces_ttl(self) -> bool:
        return (
            self.serve_enforce_ttl if self.serve_enforce_ttl is not None else self.profile != "demo"
        )

    @property
    def bentoml_home(self) -> Path:
        return self.root / "bentoml"

    @property
    def spark_home(self) -> Path:
        """Scratch of the spark engine: shuffle spill and staged parquet (removed after each run)."""
        return self.root / "spark"

    # --- file modes: the home holds PHI (bronze, landing, the demo key) ---
    @property
    def umask(self) -> int:
        """077 (owner-only), or 027 with ``shared_group`` (the group may read, nobody else)."""
        return 0o027 if self.shared_group else 0o077

    @property
    def dir_mode(self) -> int:
        """0700, or 2750 with ``shared_group`` (setgid: what is created inside inherits the group)."""
        return 0o2750 if self.shared_group else 0o700

    @property
    def file_mode(self) -> int:
        return 0o640 if self.shared_group else 0o600

    def apply_umask(self) -> int:
        """Set this process's umask (inherited by every process it starts); returns the previous one."""
        return os.umask(self.umask)

    def secure_file(self, path: Path) -> None:
        """Give a file (or folder) of ours the configured mode and group."""
        mode = self.dir_mode if path.is_dir() else self.file_mode
        st = path.stat()
        if st.st_uid != os.getuid():  # not ours (a shared parent, another account's file): leave it
            return
        if self.shared_group:
            import grp

            gid = grp.getgrnam(self.shared_group).gr_gid
            if st.st_gid != gid:
                os.chown(path, -1, gid)
        if stat.S_IMODE(st.st_mode) != mode:
            os.chmod(path, mode)

    def ensure_layout(self) -> None:
        """Create the home and its zone directories (idempotent) with the configured mode and group: owner-only
        (0700) by default. The home and the zones inside it are tightened when they already exist; a folder
        outside the home (``landing_dir``) keeps its mode unless this creates it."""
        for path in (
            self.root,
            self.landing,
            self.bronze,
            self.silver,
            self.gold,
            self.dagster_home,
            self.mlflow_home,
            self.feast_home,
            self.bentoml_home,
        ):
            missing = []
            level = path
            while not level.exists():
                missing.append(level)
                level = level.parent
            for folder in reversed(missing):
                folder.mkdir(mode=self.dir_mode, exist_ok=True)
                self.secure_file(folder)
            if path == self.root or path.is_relative_to(self.root):
                self.secure_file(path)
        if self.deid_key_file.parent.is_dir():  # the demo key's folder (deid/keys.py creates it)
            self.secure_file(self.deid_key_file.parent)


def postgres_driver_url(url: str) -> str:
    """A SQLAlchemy URL for a PostgreSQL URL: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg (3); where
    only psycopg2 is installed (dagster-postgres' requirement), name that driver. Any other URL is returned as is."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if (
        sep
        and scheme in ("postgresql", "postgres")
        and importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    ):
        return f"postgresql+psycopg2://{rest}"
    return url


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment now; keyword overrides win over env vars."""
    # any value: pydantic validates (and coerces) each override against its field when Settings is built
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)
