"""What a Bento needs at run time, all of it from explicit configuration, and the check that it is there.

A Bento is an immutable artifact: the model and our code. The features it serves live outside it, in the
lakehouse home's Feast registry and online store, so ``bentoml serve <tag>`` needs to be told where they are.
``RUNTIME_ENVS`` lists every variable the service reads when it starts; the build writes them into the Bento's
``bento.yaml`` (``envs``), its Dockerfile (``ENV``) and its README (``serving.build``), and the Kubernetes
manifest sets them (``infra/kubernetes/serving/bento.yaml``).

``check_runtime(pinned)`` runs once, in ``bentoml serve``'s main process before any worker starts (the
service's ``@bentoml.on_deployment`` hook), and again in each worker before it opens the store. It only
reads: it never creates the home, the Feast repository or the online store (under ``bentoml serve`` the
working directory is the Bento's own ``src`` folder, so a relative or defaulted path would write into the
Bento store). Whatever is missing fails with ``RuntimeConfigError``: one line naming the setting, which the
BentoML CLI prints as ``Error: [serve] `serve` failed: <line>`` before exiting with status 1 - once, without
workers to restart.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from clinical_mlops.settings import Settings, load_settings
from feature_store.config import StoreConfig
from feature_store.runtime import store_config

HOME = "CLINICAL_MLOPS_HOME"


@dataclass(frozen=True)
class RuntimeEnv:
    """One environment variable the served Bento reads. ``value`` is the default written into the Bento (its
    Dockerfile ``ENV``); ``secret`` ones never get a value written anywhere (the Bento's ``envs`` lists them
    with stage ``runtime``, so no Dockerfile ``ARG`` carries them); ``in_bento`` False: documented only (the
    image sets ``BENTOML_HOME`` itself)."""

    name: str
    description: str
    value: str | None = None
    required: bool = False
    secret: bool = False
    in_bento: bool = True


RUNTIME_ENVS: tuple[RuntimeEnv, ...] = (
    RuntimeEnv(
        HOME,
        "absolute path of the lakehouse home whose `feast/` holds the Feast registry (and, for the `packed` "
        "and `sqlite` online stores, the online store file) the features are served from. Required: the "
        "service refuses to start without it, with a relative path, or without a registry and online rows",
        required=True,
    ),
    RuntimeEnv(
        "CLINICAL_MLOPS_ONLINE_STORE",
        "online store kind the features were materialized into: `packed`, `sqlite` or `redis`",
        value="packed",
    ),
    RuntimeEnv(
        "CLINICAL_MLOPS_REDIS_URL",
        "redis://[:password@]host:port/db of the Redis online store; required with "
        "CLINICAL_MLOPS_ONLINE_STORE=redis (a secret: pass it at run time)",
        secret=True,
    ),
    RuntimeEnv(
        "BENTOML_HOME",
        "the BentoML store holding this Bento and its model (`<home>/bentoml` as the pipeline builds it; "
        "the image sets its own)",
        in_bento=False,
    ),
    RuntimeEnv(
        "PYTHONDONTWRITEBYTECODE",
        "keep Python from writing `__pycache__` into the Bento: it is served from its own folder and must "
        "stay as built",
        value="1",
    ),
    RuntimeEnv("BENTOML_DO_NOT_TRACK", "no BentoML usage tracking", value="True"),
)


class RuntimeConfigError(RuntimeError):
    """The served Bento's configuration is missing or wrong: one line that names the setting."""


NO_HOME = (
    f"{HOME} is not set: the Bento needs the lakehouse home holding the Feast registry and online store "
    f"(an absolute path, e.g. {HOME}=/data/clinical-mlops)"
)


def _home(environ: Mapping[str, str]) -> Path:
    raw = environ.get(HOME, "").strip()
    if not raw:
        raise RuntimeConfigError(NO_HOME)
    home = Path(raw).expanduser()
    if not home.is_absolute():
        raise RuntimeConfigError(
            f"{HOME}={raw} is a relative path: under bentoml serve it would resolve inside the Bento's own "
            "folder; give the lakehouse home as an absolute path"
        )
    if not home.is_dir():
        raise RuntimeConfigError(
            f"{HOME}={raw} is not a directory: the Bento needs the lakehouse home holding the Feast registry "
            "and online store"
        )
    return home


def runtime_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the service runs with, read from the environment now; ``RuntimeConfigError`` unless the
    lakehouse home is set explicitly to an existing absolute path."""
    environ = os.environ if environ is None else environ
    home = _home(environ)
    try:
        return load_settings(home=home)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(map(str, first["loc"])) or "settings"
        raise RuntimeConfigError(
            f"CLINICAL_MLOPS_{field.upper()} is invalid: {first['msg']} ({err.error_count()} error(s))"
        ) from None


def _service_views(cfg: StoreConfig, feature_service: str) -> list[str]:
    """The feature views ``feature_service`` reads, from the Feast registry file (read, never written)."""
    path = cfg.registry_path
    where = f"{HOME}={cfg.home.parent}"
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeConfigError(
            f"no Feast registry at {path} ({where}): point {HOME} at the lakehouse home whose features were "
            "materialized (clinical-mlops pipeline run)"
        )
    from feast.protos.feast.core.Registry_pb2 import Registry  # lazy: imports feast (seconds)

    registry = Registry()
    try:
        registry.ParseFromString(path.read_bytes())
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and OS errors alike
        raise RuntimeConfigError(
            f"the Feast registry {path} ({where}) cannot be read: {err}"
        ) from None
    for service in registry.feature_services:
        if service.spec.name == feature_service and service.spec.project == cfg.project:
            return [p.feature_view_name for p in service.spec.features]
    known = sorted(s.spec.name for s in registry.feature_services)
    raise RuntimeConfigError(
        f"the Feast registry {path} ({where}) has no feature service {feature_service!r} in project "
        f"{cfg.project!r} (it has {known}): point {HOME} at the home this model's features were materialized in"
    )


def _sqlite_rows(path: Path, project: str, views: list[str], setting: str) -> None:
    if not path.is_file():
        raise RuntimeConfigError(
            f"no online store at {path} ({setting}): materialize the features first (clinical-mlops "
            "pipeline run), or set CLINICAL_MLOPS_ONLINE_STORE to the store they were loaded into"
        )
    try:  # read-only: never creates the file or a journal next to it
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            loaded = [
                view
                for view in views
                for table in tables
                if table.startswith(f"{project}_{view}")
                and conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()
            ]
    except sqlite3.Error as err:
        raise RuntimeConfigError(f"the online store {path} cannot be read: {err}") from None
    if not loaded:
        raise RuntimeConfigError(
            f"the online store {path} ({setting}) has no rows for the feature views {views}: materialize the "
            "features first (clinical-mlops pipeline run)"
        )


def _redis_rows(url: str) -> None:
    import redis  # lazy: only the redis online store needs it

    parsed = urlparse(url)
    where = f"CLINICAL_MLOPS_REDIS_URL (host {parsed.hostname}:{parsed.port or 6379})"
    try:
        keys = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).dbsize()
    except redis.RedisError as err:
        raise RuntimeConfigError(
            f"the Redis online store at {where} cannot be reached: {err}"
        ) from None
    if not keys:
        raise RuntimeConfigError(
            f"the Redis online store at {where} holds no keys: materialize the features first"
        )


def check_runtime(feature_service: str, environ: Mapping[str, str] | None = None) -> Settings:
    """Everything ``feature_service`` needs at run time is configured and present: the lakehouse home, its
    Feast registry with the feature service, an online store with rows. Returns the settings; raises
    ``RuntimeConfigError`` (one line) otherwise. Reads only."""
    settings = runtime_settings(environ)
    try:
        cfg = store_config(settings)
    except ValueError as err:
        raise RuntimeConfigError(str(err)) from None
    views = _service_views(cfg, feature_service)
    setting = f"{HOME}={settings.root}, CLINICAL_MLOPS_ONLINE_STORE={settings.online_store}"
    if settings.online_store == "packed":
        _sqlite_rows(cfg.packed_online_path, cfg.project, views, setting)
    elif settings.online_store == "sqlite":
        _sqlite_rows(cfg.online_path, cfg.project, views, setting)
    else:
        assert cfg.redis_url, "store_config refuses redis without a URL"
        _redis_rows(cfg.redis_url)
    return settings


def bento_envs() -> list[dict[str, Any]]:
    """The ``envs`` of the Bento's build configuration (name, default value, stage)."""
    return [
        {"name": e.name, "value": e.value or "", "stage": "runtime" if e.secret else "all"}
        for e in RUNTIME_ENVS
        if e.in_bento
    ]


def readme_table() -> str:
    """The variables as a markdown table (the Bento's README)."""
    lines = ["| variable | default | what |", "|---|---|---|"]
    for env in RUNTIME_ENVS:
        default = "required" if env.required else (f"`{env.value}`" if env.value else "-")
        lines.append(f"| `{env.name}` | {default} | {env.description} |")
    return "\n".join(lines)
