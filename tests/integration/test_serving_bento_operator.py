"""The Bento as an operator runs it: `bentoml serve TAG` (the venv's `bentoml` script, a free port on 127.0.0.1,
BENTOML_HOME set, a neutral working directory, no PYTHONPATH and no PYTHONDONTWRITEBYTECODE).

Without its configuration - no lakehouse home, a relative one, a home without a Feast registry, an online store
without rows - the server exits non-zero on its own, printing one line that names the setting, with no
traceback and no worker restarts. With it, it answers /readyz and predictions. Either way nothing in the
BentoML store changes (a before/after listing of every file with its size and mtime) and nothing is written in
the working directory. The Bento documents its configuration (bento.yaml `envs`, README) and the Dockerfile
`bentoml containerize` would build is complete (BentoML's own `construct_containerfile`: no Docker needed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from clinical_mlops.settings import load_settings
from feature_store.config import StoreConfig
from serving.build import PROJECT_ROOT, build_bento
from serving.server import LOOPBACK, ManagedServer, free_port
from tests.integration.test_serving_bento import online_store, register
from training.spec import input_spec

pytestmark = pytest.mark.slow

TASK = "readmission_30d"
BENTOML = str(Path(sys.executable).with_name("bentoml"))
EXIT_LIMIT_S = (
    300  # a bound on a hang, not a timing assertion: the failure comes before any worker starts
)


@pytest.fixture(scope="module")
def bento(tmp_path_factory):
    home = tmp_path_factory.mktemp("operator-home")
    settings = load_settings(home=home)
    settings.ensure_layout()
    ids = online_store(settings)
    _, tracked = register(settings)
    tag = build_bento(tracked.model_name, tracked.model_version, settings=settings, threshold=0.5)
    return {"home": home, "settings": settings, "ids": ids, "tag": tag}


def operator_env(bentoml_home: Path, **extra: str) -> dict[str, str]:
    """What an operator's shell would hand `bentoml serve`: the BentoML store and the documented variables."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "BENTOML_HOME": str(bentoml_home),
        "BENTOML_DO_NOT_TRACK": "True",
        **extra,
    }


def store_listing(bentoml_home: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder of the BentoML store's bentos and models, with size and mtime."""
    listing = {}
    for top in ("bentos", "models"):
        for path in sorted((bentoml_home / top).rglob("*")):
            st = path.lstat()
            listing[path.relative_to(bentoml_home).as_posix()] = (st.st_size, st.st_mtime_ns)
    return listing


def serve_until_exit(tag: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    port = free_port()
    proc = subprocess.Popen(
        [BENTOML, "serve", tag, "--host", LOOPBACK, "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=EXIT_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(
            f"bentoml serve did not exit within {EXIT_LIMIT_S} s without its configuration:\n{out[-3000:]}"
        )
    return proc.returncode, out


def home_without_rows(bento, tmp_path: Path) -> Path:
    """A lakehouse home with the real Feast registry and an online store whose tables are empty."""
    source = StoreConfig(home=bento["settings"].feast_home)
    target = StoreConfig(home=tmp_path / "empty-home" / "feast")
    target.registry_path.parent.mkdir(parents=True)
    shutil.copy2(source.registry_path, target.registry_path)
    target.packed_online_path.parent.mkdir(parents=True)
    shutil.copy2(source.packed_online_path, target.packed_online_path)
    with sqlite3.connect(target.packed_online_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            conn.execute(f'DELETE FROM "{table}"')
    return target.home.parent


@pytest.mark.parametrize(
    "case, expected",
    [
        ("unset", "CLINICAL_MLOPS_HOME is not set: the Bento needs the lakehouse home"),
        ("relative", "CLINICAL_MLOPS_HOME=.clinical-mlops is a relative path"),
        ("no registry", "no Feast registry at"),
        ("no rows", "has no rows for the feature views"),
    ],
)
def test_without_its_configuration_the_server_exits_once_with_one_line(
    bento, tmp_path, case, expected
):
    bentoml_home = bento["settings"].bentoml_home
    extra = {
        "unset": {},
        "relative": {"CLINICAL_MLOPS_HOME": ".clinical-mlops"},
        "no registry": {"CLINICAL_MLOPS_HOME": str(tmp_path / "bare")},
        "no rows": {},
    }[case]
    if case == "no registry":
        (tmp_path / "bare").mkdir()
    if case == "no rows":
        extra = {"CLINICAL_MLOPS_HOME": str(home_without_rows(bento, tmp_path))}
    neutral = tmp_path / "cwd"
    neutral.mkdir()
    before = store_listing(bentoml_home)
    code, out = serve_until_exit(bento["tag"], operator_env(bentoml_home, **extra), neutral)
    print(f"[{case}] exit {code}:\n{out}")
    assert code != 0
    lines = [line for line in out.splitlines() if line.strip()]
    matching = [line for line in lines if expected in line]
    assert len(matching) == 1, f"expected the one line {expected!r} once, got:\n{out}"
    assert matching[0].startswith("Error: ") and "CLINICAL_MLOPS_HOME" in matching[0]
    assert "Traceback" not in out and "Initializing service error" not in out
    assert store_listing(bentoml_home) == before, "serving must not write into the BentoML store"
    assert list(neutral.iterdir()) == [], "serving must not write into the working directory"


def test_with_its_configuration_it_answers(bento, tmp_path):
    bentoml_home = bento["settings"].bentoml_home
    neutral = tmp_path / "cwd"
    neutral.mkdir()
    before = store_listing(bentoml_home)
    port = free_port()
    server = ManagedServer(
        [BENTOML, "serve", bento["tag"], "--host", LOOPBACK, "--port", str(port)],
        host=LOOPBACK,
        port=port,
        env=operator_env(bentoml_home, CLINICAL_MLOPS_HOME=str(bento["home"])),
        name="bentoml-serve-operator",
        log_path=tmp_path / "serve.log",
        cwd=neutral,
    )
    row = dict.fromkeys(input_spec(TASK).columns)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        answers = [
            client.post("/predict_by_id", json={"patient_id": pid}).json() for pid in bento["ids"]
        ]
        scored = [a for a in answers if a["status"] == "scored"]
        assert scored, answers
        assert all(0.0 <= a["risk"] <= 1.0 for a in scored)
        resp = client.post(
            "/predict_by_id",
            json={"patient_id": scored[0]["patient_id"]},
            headers={"X-Request-ID": "op-1"},
        )
        assert resp.status_code == 200 and resp.headers["x-request-id"] == "op-1"
        # nothing known: an honest "insufficient_data", no risk
        resp = client.post("/predict_row", json={"features": row})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "insufficient_data" and resp.json()["risk"] is None
        # a value no training row could hold: 422 naming the feature, never a NaN risk or a 400
        resp = client.post("/predict_row", json={"features": {**row, "age_years": 10**40}})
        assert resp.status_code == 422, resp.text
        assert resp.json()["refused"][0]["feature"] == "age_years"
        assert resp.json()["request_id"] == resp.headers["x-request-id"]
    print("served answers:", json.dumps(answers[:2], indent=1))
    assert store_listing(bentoml_home) == before, "serving must not write into the BentoML store"
    assert list(neutral.iterdir()) == [], "serving must not write into the working directory"


def test_the_bento_documents_its_configuration(bento):
    name, version = bento["tag"].split(":")
    path = bento["settings"].bentoml_home / "bentos" / name / version
    info = yaml.safe_load((path / "bento.yaml").read_text())
    envs = {e["name"]: e for e in info["envs"]}
    assert {
        "CLINICAL_MLOPS_HOME",
        "CLINICAL_MLOPS_ONLINE_STORE",
        "CLINICAL_MLOPS_REDIS_URL",
    } <= envs.keys()
    assert envs["CLINICAL_MLOPS_REDIS_URL"]["stage"] == "runtime"
    assert info["image"]["python_version"] == "3.11"
    readme = (path / "README.md").read_text()
    for variable in envs:
        assert f"`{variable}`" in readme
    assert bento["tag"] in readme and "CLINICAL_MLOPS_HOME is not set" in readme
    pycs = list((path / "src" / "serving" / "__pycache__").glob("*.pyc"))
    assert pycs, "the Bento ships its bytecode so that serving never writes __pycache__ into it"


CONTAINERFILE = """
import json, os, sys
import bentoml
from bentoml._internal.container import construct_containerfile

bento = bentoml.bentos.get(sys.argv[1])
with construct_containerfile(bento, enable_buildkit=False, add_header=True) as (ctx, dockerfile):
    print(json.dumps({
        "dockerfile": open(dockerfile).read(),
        "requirements": open(os.path.join(ctx, "env", "python", "requirements.txt")).read(),
        "entrypoint": os.path.isfile(os.path.join(ctx, "env", "docker", "entrypoint.sh")),
        "models": sorted(os.listdir(os.path.join(ctx, "models"))),
    }))
"""


def test_the_dockerfile_bentoml_containerize_would_build(bento, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", CONTAINERFILE, bento["tag"]],
        env=operator_env(bento["settings"].bentoml_home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    dockerfile = out["dockerfile"]
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert "FROM python:3.11-slim AS base-container" in lines
    assert any("uv venv --python 3.11" in line for line in lines)
    assert any("pip install -r $BENTO_PATH/env/python/requirements.txt" in line for line in lines)
    for line in ("ARG CLINICAL_MLOPS_HOME", "ENV CLINICAL_MLOPS_HOME=$CLINICAL_MLOPS_HOME"):
        assert line in lines
    assert "ARG CLINICAL_MLOPS_ONLINE_STORE=packed" in lines
    assert "ARG PYTHONDONTWRITEBYTECODE=1" in lines
    assert "CLINICAL_MLOPS_REDIS_URL" not in dockerfile, "a secret is never baked into the image"
    assert 'ENTRYPOINT [ "/home/bentoml/bento/env/docker/entrypoint.sh" ]' in lines
    assert out["entrypoint"]
    requirements = {line.strip() for line in out["requirements"].splitlines()}
    lock = [
        line.strip()
        for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    missing = [pin for pin in lock if pin not in requirements]
    assert not missing, f"pins of requirements.lock the image would not install: {missing[:10]}"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    assert out["models"], "the model travels in the build context"
