"""The one typed settings object, read when a command or resource starts (never at import time)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Platform configuration. Every field can be set with an env var `CLINICAL_MLOPS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="CLINICAL_MLOPS_", extra="ignore")

    home: Path = Field(
        default=Path(".clinical-mlops"),
        description="Lakehouse root: landing/, bronze/, silver/, gold/ and the homes of Dagster, MLflow, Feast, BentoML.",
    )
    landing_dir: Path | None = Field(
        default=None, description="Where the pipeline reads raw exports from (default: <home>/landing)."
    )
    profile: Literal["demo", "dev", "prod"] = Field(
        default="demo", description="`demo` may create local secrets; other profiles refuse to run without them."
    )
    demo_patients: int = Field(default=1000, ge=1, description="Patients the demo generates.")
    demo_seed: int = Field(default=42, description="Seed of the demo cohort.")
    quarantine_warn_rate: float = Field(
        default=0.01, ge=0.0, le=1.0, description="Quarantined/read ratio above which the ingestion check warns."
    )
    deid_key: SecretStr | None = Field(
        default=None, description="De-identification HMAC key (hex or text, >= 16 bytes); required outside the demo.")
    deid_date_mode: Literal["safe_harbor", "shift"] = Field(
        default="shift", description="Dates to year (safe_harbor) or shifted by a keyed per-patient offset (shift).")
    deid_workers: int = Field(
        default=2, ge=1, description="Processes de-identifying note text (each loads the gazetteers once).")
    online_store: Literal["packed", "sqlite", "redis"] = Field(
        default="packed", description="Feast online store: `packed` (SQLite under the Feast home, one row per patient "
                                      "and view: feature_store/packed_store.py), `sqlite` (Feast's own SQLite layout, "
                                      "one row per patient and feature) or `redis` (production).")
    redis_url: SecretStr | None = Field(
        default=None, description="redis://[:password@]host:port/db of the Redis online store.")
    ray_address: str | None = Field(
        default=None, description="An existing Ray cluster (ray://host:10001 or auto); default: local Ray, 127.0.0.1 only.")
    ray_num_workers: int = Field(default=2, ge=1, description="Ray Train workers (DDP ranks).")
    ray_use_gpu: bool | None = Field(
        default=None, description="Train on GPUs; default: when this machine has CUDA devices.")
    ray_cpus_per_worker: float = Field(default=1.0, gt=0, description="CPUs each Ray Train worker reserves.")
    ray_storage: str | None = Field(
        default=None, description="Ray Train checkpoints: a path or object-store URI (default: <home>/ray).")
    train_max_epochs: int = Field(default=20, ge=1, description="Epochs at most (early stopping on val AUROC).")
    train_seed: int = Field(default=42, description="Seed of weight initialisation, dropout and data order.")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking server; default: SQLite and artifacts under <home>/mlflow.")
    eval_bootstrap: int = Field(
        default=1000, ge=100, description="Bootstrap resamples behind every 95% confidence interval of an evaluation.")
    serve_host: str = Field(default="127.0.0.1", description="Interface the model server binds (loopback by default).")
    serve_port: int = Field(default=3100, ge=1, le=65535, description="Port of `clinical-mlops serve`.")
    serve_max_batch: int = Field(default=256, ge=1, description="Most patients or rows in one batch request.")
    serve_max_request_bytes: int = Field(
        default=2_000_000, ge=1024, description="Largest request body the model server accepts (413 above it).")
    serve_timeout_s: float = Field(default=10.0, gt=0, description="Request timeout of the model server (seconds).")
    serve_enforce_ttl: bool | None = Field(
        default=None, description="Serve only online features within their view's TTL of now (default: on, except "
                                  "in the demo profile, whose historical cohort ends before today minus the TTLs).")
    # --- OpenLineage (lineage/openlineage.py, orchestration/openlineage_hooks.py) ---
    # --- automation (orchestration/automation.py): schedule, sensors, drift, retries ---
    # --- production profile (PostgreSQL for Dagster and MLflow, Redis online store) ---
    ingest_batch_rows: int = Field(
        default=50_000, ge=1, description="Resources parsed per Arrow batch during ingestion."
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def landing(self) -> Path:
        return (self.landing_dir.expanduser().resolve() if self.landing_dir else self.root / "landing")

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
        return self.mlflow_tracking_uri or f"sqlite:///{self.mlflow_home / 'mlflow.db'}"

    @property
    def feast_home(self) -> Path:
        return self.root / "feast"

    @property
    def serving_enforces_ttl(self) -> bool:
        return self.serve_enforce_ttl if self.serve_enforce_ttl is not None else self.profile != "demo"

    @property
    def bentoml_home(self) -> Path:
        return self.root / "bentoml"

    def ensure_layout(self) -> None:
        """Create the zone directories (idempotent)."""
        for path in (self.landing, self.bronze, self.silver, self.gold, self.dagster_home,
                     self.mlflow_home, self.feast_home, self.bentoml_home):
            path.mkdir(parents=True, exist_ok=True)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment now; keyword overrides win over env vars."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
