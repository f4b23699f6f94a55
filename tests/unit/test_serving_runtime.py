"""The served Bento's start-up check (serving.runtime): without an explicit, absolute lakehouse home holding a
Feast registry with the feature service, it fails with one line naming the setting, and it never creates
anything on the way; the Bento's envs and README come from the same list."""

from __future__ import annotations

import os

import pytest

from serving.runtime import (
    HOME,
    RUNTIME_ENVS,
    RuntimeConfigError,
    bento_envs,
    check_runtime,
    readme_table,
)

SERVICE = "readmission_v1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("CLINICAL_MLOPS_"):
            monkeypatch.delenv(name)


def tree(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_home_is_one_line_naming_the_setting(value):
    environ = {} if value is None else {HOME: value}
    with pytest.raises(RuntimeConfigError) as err:
        check_runtime(SERVICE, environ)
    message = str(err.value)
    assert message.startswith(f"{HOME} is not set: the Bento needs the lakehouse home")
    assert "\n" not in message


def test_a_relative_home_is_refused_not_resolved_against_the_working_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeConfigError, match="relative path"):
        check_runtime(SERVICE, {HOME: ".clinical-mlops"})
    assert tree(tmp_path) == [], "nothing may be created in the working directory"


def test_a_home_that_is_not_a_directory_is_refused(tmp_path):
    with pytest.raises(RuntimeConfigError, match="is not a directory"):
        check_runtime(SERVICE, {HOME: str(tmp_path / "nowhere")})
    assert not (tmp_path / "nowhere").exists()


def test_a_home_without_a_registry_is_refused_and_left_as_it_was(tmp_path):
    with pytest.raises(RuntimeConfigError, match="no Feast registry at .*registry.pb") as err:
        check_runtime(SERVICE, {HOME: str(tmp_path)})
    assert HOME in str(err.value)
    assert tree(tmp_path) == []


def test_an_unreadable_registry_is_refused(tmp_path):
    registry = tmp_path / "feast" / "registry" / "registry.pb"
    registry.parent.mkdir(parents=True)
    registry.write_bytes(b"\xff\xff not a protobuf")
    with pytest.raises(RuntimeConfigError, match="cannot be read|no feature service"):
        check_runtime(SERVICE, {HOME: str(tmp_path)})


def test_redis_without_its_url_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICAL_MLOPS_ONLINE_STORE", "redis")
    with pytest.raises(RuntimeConfigError, match="CLINICAL_MLOPS_REDIS_URL"):
        check_runtime(SERVICE, {HOME: str(tmp_path)})


def test_an_invalid_setting_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICAL_MLOPS_ONLINE_STORE", "cassandra")
    with pytest.raises(RuntimeConfigError, match="CLINICAL_MLOPS_ONLINE_STORE is invalid"):
        check_runtime(SERVICE, {HOME: str(tmp_path)})


def test_the_bento_envs_and_readme_list_every_runtime_variable():
    envs = {e["name"]: e for e in bento_envs()}
    assert envs[HOME] == {"name": HOME, "value": "", "stage": "all"}
    assert envs["PYTHONDONTWRITEBYTECODE"]["value"] == "1"
    assert envs["CLINICAL_MLOPS_REDIS_URL"]["stage"] == "runtime", (
        "a secret never gets a Dockerfile ARG"
    )
    assert "BENTOML_HOME" not in envs, "the image sets its own BENTOML_HOME"
    table = readme_table()
    for env in RUNTIME_ENVS:
        assert f"`{env.name}`" in table


def test_the_kubernetes_serving_manifest_sets_the_bentos_variables():
    import yaml

    from serving.build import PROJECT_ROOT

    docs = yaml.safe_load_all((PROJECT_ROOT / "infra/kubernetes/serving/bento.yaml").read_text())
    (deployment,) = [d for d in docs if d and d["kind"] == "Deployment"]
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    for variable in RUNTIME_ENVS:
        assert variable.name in env, f"the serving Deployment does not set {variable.name}"
    assert env[HOME]["value"].startswith("/"), "the lakehouse home must be an absolute path"
    assert "value" not in env["CLINICAL_MLOPS_REDIS_URL"], "the Redis URL comes from a Secret"


def test_the_build_writes_a_self_contained_configuration(tmp_path):
    from serving.build import (
        PYTHON_VERSION,
        TORCH_CPU_INDEX,
        docker_options,
        python_options,
        readme,
    )

    (tmp_path / "requirements.lock").write_text("numpy==2.4.6\ntorch==2.13.0+cpu\n")
    assert python_options(tmp_path) == {
        "lock_packages": False,
        "requirements_txt": "requirements.lock",
        "extra_index_url": [TORCH_CPU_INDEX],
    }
    (tmp_path / "requirements.lock").write_text("numpy==2.4.6\n")
    assert "extra_index_url" not in python_options(tmp_path)
    assert docker_options()["python_version"] == PYTHON_VERSION == "3.11"
    labels = {
        "registered_model": "clinical-readmission",
        "model_version": "3",
        "task": "readmission_30d",
        "mlflow_run_id": "r" * 32,
        "feature_service": SERVICE,
        "training_set_digest": "sha256:ab",
        "landing_snapshot_id": "f" * 64,
        "code_git_sha": "abc",
    }
    text = readme("clinical-readmission-service:v3-x", labels)
    assert "bentoml serve clinical-readmission-service:v3-x" in text
    for env in RUNTIME_ENVS:
        assert f"`{env.name}`" in text
    assert f"`serve` failed: {HOME} is not set" in text
