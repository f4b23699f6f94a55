"""Package a registered MLflow model version as a Bento under ``settings.bentoml_home``.

``build_bento(model_name, model_version)``:
1. reads the model version from the MLflow registry and its lineage tags (``lineage.task``,
   ``lineage.feature_service``, ``lineage.training_set.digest``, ``lineage.landing.snapshot_id``; a version
   without them is refused: a served prediction must be traceable);
2. imports it into the BentoML model store (``bentoml.mlflow.import_model``) as
   ``<registered model>:v<version>-<run id[:10]>``, labelled with the version and its lineage;
3. builds the Bento of ``serving.service:ClinicalRiskService`` with every identifying value pinned as a
   template argument (``ServiceArgs``) and as a label, our packages (.py files and their checked-hash .pyc,
   so that serving never writes ``__pycache__`` into the store) and the pinned ``requirements.lock``
   (``lock_packages`` off: the lock is already pinned and nothing is resolved online). Self-contained: the
   run-time configuration (``serving.runtime.RUNTIME_ENVS``) is the Bento's ``envs`` (in ``bento.yaml`` and
   its Dockerfile) and its README, and the ``docker`` section names the Python version, so
   ``bentoml containerize`` needs nothing else.

Idempotent by content: the Bento version is ``v<version>-<run id[:10]>-<fingerprint[:10]>`` where the
fingerprint covers the pinned arguments, the packaged sources and the lock file. Building the same model version
from the same code again reuses the existing model and Bento (nothing is rewritten); a code or argument change
makes a new Bento beside the old one. A stored model or Bento of that tag that does not match (another MLflow
run registered under the same version number, e.g. after the registry was reset) is deleted and rebuilt.

The build runs in a child Python process by default (``isolated=True``): BentoML reads ``BENTOML_HOME`` once per
process and imports the service module once per process, so a build in the caller's process would use whatever
home and template arguments that process saw first.
"""

from __future__ import annotations

import compileall
import hashlib
import importlib.util
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clinical_mlops.settings import load_settings
from features.tasks import TASKS
from serving.args import ServiceArgs
from serving.closure import module_closure
from serving.runtime import HOME, NO_HOME, bento_envs, readme_table

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SERVICE = "serving.service:ClinicalRiskService"
# what the Bento's sources start from: the service, and the registered pyfunc's own code (an MLflow model from
# code: loading it imports training/mlflow_model.py, which imports training.fit and the model)
ENTRY_MODULES = (SERVICE.partition(":")[0], "training.mlflow_model")
EXTRA_FILES = ("requirements.lock", "pyproject.toml")
PYTHON_VERSION = (
    f"{sys.version_info.major}.{sys.version_info.minor}"  # the lock's wheels are for this one
)
# the lock pins CPU-only torch (a local version, ``torch==X+cpu``), published on PyTorch's index only
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
REQUIRED_TAGS = {
    "task": "lineage.task",
    "feature_service": "lineage.feature_service",
    "training_set_digest": "lineage.training_set.digest",
    "landing_snapshot_id": "lineage.landing.snapshot_id",
}


class BuildError(RuntimeError):
    pass


def bento_name(registered_model: str) -> str:
    return f"{_tag_name(registered_model)}-service"


def _tag_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.lower()).strip("-_.")
    if not cleaned:
        raise BuildError(f"cannot make a BentoML name from {name!r}")
    return cleaned


def source_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """The modules the service imports (serving/closure.py), then the lock and pyproject."""
    files = module_closure(root, ENTRY_MODULES)
    return files + [root / f for f in EXTRA_FILES if (root / f).exists()]


def fingerprint(service_args: Mapping[str, Any], root: Path = PROJECT_ROOT) -> str:
    """Of the pinned arguments, the packaged sources and this build code (the Bento's configuration, README
    and docker section come from here: changing them makes a new Bento)."""
    digest = hashlib.sha256(json.dumps(dict(service_args), sort_keys=True, default=str).encode())
    digest.update(hashlib.sha256(Path(__file__).read_bytes()).digest())
    for path in source_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def python_options(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The Bento's ``python`` section: the pinned lock as is (nothing resolved at build time), plus PyTorch's
    CPU index when the lock pins a ``+cpu`` torch (``bentoml containerize`` installs from the lock)."""
    python: dict[str, Any] = {"lock_packages": False}
    lock = root / "requirements.lock"
    if lock.exists():
        python["requirements_txt"] = "requirements.lock"
        if any("+cpu" in line for line in lock.read_text().splitlines()):
            python["extra_index_url"] = [TORCH_CPU_INDEX]
    return python


def docker_options() -> dict[str, Any]:
    """The Bento's ``docker`` section: Debian slim with the lock's Python; torch's CPU wheels need no system
    package beyond BentoML's defaults. The run-time variables are the Bento's ``envs`` (``serving.runtime``)."""
    return {"distro": "debian", "python_version": PYTHON_VERSION, "system_packages": []}


def readme(bento_tag: str, labels: Mapping[str, str]) -> str:
    """The Bento's README (its ``description``): what it serves and everything it needs to run."""
    return f"""# {bento_tag}

{labels["registered_model"]} version {labels["model_version"]} (task `{labels["task"]}`, MLflow run
`{labels["mlflow_run_id"]}`), served as BentoML service `clinical_risk` with features from the Feast feature
service `{labels["feature_service"]}`. Trained on training set `{labels["training_set_digest"]}` from landing
snapshot `{labels["landing_snapshot_id"]}`; code `{labels["code_git_sha"]}`.

## Run

The Bento holds the model and the code, never the features: they are read from the lakehouse home named by
`{HOME}` (an absolute path), from any working directory:

```bash
BENTOML_HOME=/path/to/lakehouse/bentoml {HOME}=/path/to/lakehouse \\
    bentoml serve {bento_tag} --host 127.0.0.1 --port 3000
```

Configuration, read when the server starts (nothing else is read, nothing is written inside the Bento):

{readme_table()}

Before any worker starts, the server checks that `{HOME}` is set to an existing absolute path whose Feast
registry holds the feature service `{labels["feature_service"]}` and whose online store has rows. If not, it
exits with status 1 and one line naming the setting, e.g.

```
Error: [serve] `serve` failed: {NO_HOME}
```

## Endpoints

`POST /predict_by_id` `{{"patient_id": "pat_..."}}`, `/predict_by_id_batch`, `/predict_row`,
`/predict_row_batch`; `GET /readyz`, `/livez`. An answer is `status: "scored"` with the risk, or
`status: "insufficient_data"` with the missing feature views and no risk. 400: the request does not validate;
404: unknown patient; 413/415: body too large or not JSON; 422: a value that is not finite or above 1e12,
naming the feature; 500: the service failed (the body and the `X-Request-ID` header carry the request id).

## Container

`bentoml containerize {bento_tag}` builds the image (Python {PYTHON_VERSION}, packages from the pinned
`requirements.lock`); its Dockerfile declares the variables above (pass `{HOME}` and the Redis URL at run
time, e.g. `docker run -e {HOME}=/data/clinical-mlops -v ...:/data/clinical-mlops:ro`).
"""


def _compile_bytecode(staging: Path, sources: list[Path]) -> list[str]:
    """Checked-hash ``.pyc`` files for the packaged modules (paths relative to ``staging``), to ship in the
    Bento: an interpreter of the Bento's Python version validates them against the source and never writes
    ``__pycache__`` into the Bento store when it serves it (a timestamp ``.pyc`` would be stale after
    BentoML's copy)."""
    compiled = []
    for path in sources:
        if path.suffix != ".py":
            continue
        target = staging / path.relative_to(PROJECT_ROOT)
        if not compileall.compile_file(
            str(target),
            quiet=2,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        ):
            raise BuildError(f"cannot compile {path}")
        pyc = Path(importlib.util.cache_from_source(str(target)))
        compiled.append(pyc.relative_to(staging).as_posix())
    return compiled


def _compile_model_code(model_dir: Path) -> None:
    """The registered pyfunc is a model from code: loading it imports ``mlflow_model.py`` from the model's own
    folder in the BentoML store. Its checked-hash bytecode is written now, at build time, so that serving never
    writes ``__pycache__`` into the store."""
    for source in sorted(model_dir.rglob("*.py")):
        if Path(importlib.util.cache_from_source(str(source))).exists():
            continue
        if not compileall.compile_file(
            str(source), quiet=2, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
        ):
            raise BuildError(f"cannot compile the model's code {source}")


def build_bento(
    model_name: str,
    model_version: str | int,
    *,
    settings=None,
    tracking_uri: str | None = None,
    git_sha: str | None = None,
    threshold: float | None = None,
    max_batch: int | None = None,
    max_body_bytes: int | None = None,
    timeout_s: float | None = None,
    workers: int | None = None,
    enforce_ttl: bool | None = None,
    range_policy: str | None = None,
    access_log: bool | None = None,
    metrics: bool | None = None,
    tracing: bool | None = None,
    isolated: bool = True,
) -> str:
    """Import ``models:/<model_name>/<model_version>`` into the BentoML store and build its Bento; returns the
    Bento tag (``name:version``). ``settings`` defaults to ``load_settings()`` (BENTOML_HOME is
    ``settings.bentoml_home``, the registry ``settings.tracking_uri`` unless ``tracking_uri`` is given)."""
    settings = settings or load_settings()
    request: dict[str, Any] = {
        "model_name": model_name,
        "model_version": str(model_version),
        "tracking_uri": tracking_uri or settings.tracking_uri,
        "bentoml_home": str(settings.bentoml_home),
        "git_sha": git_sha,
        "options": {
            k: v
            for k, v in {
                "threshold": threshold,
                "max_batch": max_batch,
                "max_body_bytes": max_body_bytes,
                "timeout_s": timeout_s,
                "workers": workers,
                "enforce_ttl": enforce_ttl,
                "range_policy": range_policy,
                "access_log": access_log,
                "metrics": metrics,
                "tracing": tracing,
            }.items()
            if v is not None
        },
    }
    Path(request["bentoml_home"]).mkdir(parents=True, exist_ok=True)
    if not isolated:
        if os.environ.get("BENTOML_HOME") != request["bentoml_home"]:
            raise BuildError(
                f"isolated=False needs BENTOML_HOME={request['bentoml_home']} set before BentoML is "
                f"first used in this process (it is {os.environ.get('BENTOML_HOME')!r})"
            )
        return _build(request)["bento_tag"]
    env = {
        **os.environ,
        "BENTOML_HOME": request["bentoml_home"],
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "serving.build", json.dumps(request)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-30:])
        raise BuildError(
            f"building the Bento of {model_name} v{model_version} failed "
            f"(exit {proc.returncode}):\n{tail}"
        )
    return json.loads(lines[-1])["bento_tag"]


def _build(request: dict[str, Any]) -> dict[str, Any]:
    """In a process whose BENTOML_HOME is ``request['bentoml_home']``."""
    import bentoml
    import mlflow
    from bentoml.exceptions import NotFound
    from mlflow import MlflowClient

    name, version = request["model_name"], request["model_version"]
    uri = request["tracking_uri"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        mv = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, version)
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own exception types
        raise BuildError(
            f"model {name} version {version} is not in the registry at {uri}: {exc}"
        ) from exc
    tags = dict(mv.tags)
    lineage = {key: tags.get(tag, "") for key, tag in REQUIRED_TAGS.items()}
    if not lineage["task"]:  # older versions: the task whose registered model this is
        lineage["task"] = next((t.name for t in TASKS.values() if t.registered_model == name), "")
    missing = sorted(REQUIRED_TAGS[k] for k, v in lineage.items() if not v)
    if missing:
        raise BuildError(
            f"model {name} v{version} lacks the lineage tags {missing}: register it with "
            "training.tracking.log_and_register (a served prediction must trace to its data)"
        )
    run_id = mv.run_id or tags.get("mlflow.run_id", "")
    model_tag = f"{_tag_name(name)}:v{version}-{(run_id or 'norun')[:10].lower()}"
    labels = {
        "registered_model": name,
        "model_version": str(version),
        "mlflow_run_id": run_id,
        "task": lineage["task"],
        "feature_service": lineage["feature_service"],
        "training_set_digest": lineage["training_set_digest"],
        "landing_snapshot_id": lineage["landing_snapshot_id"],
        "code_git_sha": request.get("git_sha") or tags.get("code.git_sha", "unknown"),
    }
    model = _stored(bentoml.models, model_tag, NotFound)
    if model is not None and dict(model.info.labels).get("mlflow_run_id") != run_id:
        bentoml.models.delete(model_tag)
        model = None
    reused_model = model is not None
    if model is None:
        model = bentoml.mlflow.import_model(
            model_tag,
            f"models:/{name}/{version}",
            labels=labels,
            metadata={"mlflow_source": str(mv.source), "tracking_uri": uri},
        )
    # the stored copy: the model import_model returns may still point at its staging folder
    _compile_model_code(Path(bentoml.models.get(model.tag).path))
    service_args = ServiceArgs(
        model_tag=str(model.tag),
        registered_model=name,
        model_version=str(version),
        mlflow_run_id=run_id,
        task=lineage["task"],
        feature_service=lineage["feature_service"],
        training_set_digest=lineage["training_set_digest"],
        landing_snapshot_id=lineage["landing_snapshot_id"],
        **request.get("options", {}),
    ).model_dump()
    bento_tag = f"{bento_name(name)}:v{version}-{(run_id or 'norun')[:10].lower()}-{fingerprint(service_args)[:10]}"
    bento = _stored(bentoml.bentos, bento_tag, NotFound)
    if bento is not None and dict(bento.info.args) != service_args:
        bentoml.bentos.delete(bento_tag)
        bento = None
    reused = bento is not None
    if bento is None:
        from bentoml._internal.bento.build_config import (
            BentoEnvSchema,
        )  # lazy: BentoML's own module

        sources = source_files()
        include = [path.relative_to(PROJECT_ROOT).as_posix() for path in sources]
        # the build context is a staging copy of exactly the fingerprinted files: BentoML walks its whole
        # context, and the project root may hold the lakehouse home (BentoML's own tmp dir included)
        with tempfile.TemporaryDirectory(prefix="bento-ctx-") as staging:
            for path in sources:
                target = Path(staging) / path.relative_to(PROJECT_ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            compiled = _compile_bytecode(Path(staging), sources)
            bento = bentoml.bentos.build(
                SERVICE,
                name=bento_name(name),
                version=bento_tag.split(":", 1)[1],
                labels={**labels, "bentoml_model": str(model.tag)},
                description=readme(bento_tag, labels),
                include=include,
                envs=[BentoEnvSchema(**env) for env in bento_envs()],
                docker=docker_options(),
                python=python_options(),
                build_ctx=staging,
                args=service_args,
            )
            # BentoML never packs __pycache__: the bytecode goes into the stored Bento before anyone serves it
            for rel in compiled:
                target = Path(bento.path) / "src" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(staging) / rel, target)
    return {
        "bento_tag": str(bento.tag),
        "model_tag": str(model.tag),
        "reused_bento": reused,
        "reused_model": reused_model,
        "args": service_args,
    }


def _stored(store, tag: str, not_found: type[Exception]):
    try:
        return store.get(tag)
    except not_found:
        return None


if __name__ == "__main__":
    result = _build(json.loads(sys.argv[1]))
    print(json.dumps(result, default=str))
