"""Offline checks of the EKS manifests under infra/kubernetes (no cluster, no kubectl/kustomize/helm).

- Schema validation (strict, Kubernetes 1.33) and checkov run in the infra tools venv `.venv-infra`
  (`make infra-venv`) through subprocess; those tests skip with that hint when it is missing.
- The policy tests below parse the YAML here (PyYAML) and need nothing else: pinned images, the restricted
  security context, resources, probes, ClusterIP services, the fixed ServiceAccounts, externally provisioned
  Secrets only, the Dagster instance and workspace, the RayCluster's GPU group and the app's real settings.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "kubernetes"
README = K8S / "README.md"
VALIDATE = K8S / "validate.py"
INFRA_BIN = REPO / ".venv-infra" / "bin"
NAMESPACE = "clinical-mlops"

# The ServiceAccounts the Terraform IRSA roles trust (infra/terraform/modules/irsa): names are fixed.
SERVICE_ACCOUNTS = {"dagster", "dagster-user-code", "ray-train", "mlflow", "bento-serving", "feast"}
# Secrets provisioned outside these manifests (External Secrets operator from AWS Secrets Manager), with their keys.
EXTERNAL_SECRETS = {
    "clinical-mlops-dagster-db": {"CLINICAL_MLOPS_DAGSTER_POSTGRES_URL"},
    "clinical-mlops-mlflow-db": {"MLFLOW_BACKEND_STORE_URI"},
    "clinical-mlops-redis": {"CLINICAL_MLOPS_REDIS_URL"},
    "clinical-mlops-deid": {"CLINICAL_MLOPS_DEID_KEY"},
}
# Pods that mount a ServiceAccount token, and why (every other pod sets automountServiceAccountToken: false).
API_CLIENT_PODS = {
    "Deployment/dagster-webserver": "K8sRunLauncher: terminate runs, run-worker health",
    "Deployment/dagster-daemon": "K8sRunLauncher: launch the queued runs as Jobs",
    "RayCluster/clinical-mlops-ray:head": "KubeRay autoscaler sidecar patches the RayCluster",
}
# Config fields of dagster_k8s.K8sRunLauncher (DagsterK8sJobConfig.config_type_run_launcher, dagster-k8s 0.29):
# dagster-k8s is not installed in the app venv, so its schema cannot be loaded here.
K8S_RUN_LAUNCHER_FIELDS = {
    "instance_config_map",
    "postgres_password_secret",
    "dagster_home",
    "load_incluster_config",
    "kubeconfig_file",
    "fail_pod_on_run_failure",
    "run_k8s_config",
    "job_namespace",
    "only_allow_user_defined_k8s_config_fields",
    "only_allow_user_defined_env_vars",
    "job_image",
    "image_pull_policy",
    "image_pull_secrets",
    "service_account_name",
    "env_config_maps",
    "env_secrets",
    "env_vars",
    "volume_mounts",
    "volumes",
    "labels",
    "resources",
    "scheduler_name",
    "security_context",
}
RUN_K8S_CONFIG_FIELDS = {
    "container_config",
    "pod_template_spec_metadata",
    "pod_spec_config",
    "job_config",
    "job_metadata",
    "job_spec_config",
}
PASSWORD_IN_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^@\s/]+@", re.I)


# ---------------------------------------------------------------- loading (app venv, PyYAML only)


def manifest_files() -> list[Path]:
    """Every manifest: YAML under infra/kubernetes except kustomization.yaml (composition only) and schemas/."""
    return sorted(
        p
        for p in K8S.rglob("*.yaml")
        if p.name != "kustomization.yaml" and "schemas" not in p.relative_to(K8S).parts
    )


def _load() -> list[tuple[Path, dict]]:
    out = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                out.append((path, doc))
    return out


DOCS = _load()


def ident(doc: dict) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def objects(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in DOCS if d.get("kind") == kind}


def dagster_instance() -> dict:
    return yaml.safe_load(objects("ConfigMap")["dagster-instance"]["data"]["dagster.yaml"])


def pod_specs() -> Iterator[tuple[str, dict, dict]]:
    """(owner, pod template metadata, pod spec) of every pod the manifests create, RayCluster groups included."""
    for _, doc in DOCS:
        kind, name = doc.get("kind"), doc["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            tpl = doc["spec"]["template"]
            yield f"{kind}/{name}", tpl.get("metadata") or {}, tpl["spec"]
        elif kind == "RayCluster":
            head = doc["spec"]["headGroupSpec"]["template"]
            yield f"{kind}/{name}:head", head.get("metadata") or {}, head["spec"]
            for group in doc["spec"].get("workerGroupSpecs") or []:
                tpl = group["template"]
                yield f"{kind}/{name}:{group['groupName']}", tpl.get("metadata") or {}, tpl["spec"]


def containers() -> Iterator[tuple[str, dict, dict]]:
    """(owner/container, container, pod spec) for every container and init container."""
    for owner, _, spec in pod_specs():
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            yield f"{owner}/{c['name']}", c, spec


def run_pod_labels() -> dict[str, str]:
    """Labels of the pods the K8sRunLauncher creates (from dagster.yaml)."""
    config = dagster_instance()["run_launcher"]["config"]
    return {
        **config.get("labels", {}),
        **config["run_k8s_config"]["pod_template_spec_metadata"]["labels"],
    }


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


# ---------------------------------------------------------------- infra venv: strict schemas and checkov


def _infra_tool(name: str) -> Path:
    tool = INFRA_BIN / name
    if not tool.exists():
        pytest.skip(
            f"{tool.relative_to(REPO)} missing: run `make infra-venv` (kubernetes-validate, checkov)"
        )
    return tool


def run_validator(*paths: Path) -> dict:
    python = _infra_tool("python")
    proc = subprocess.run(
        [str(python), str(VALIDATE), "--json", *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), (
        f"validate.py crashed (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    )
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def validation() -> dict:
    return run_validator()


@pytest.fixture(scope="module")
def checkov() -> dict:
    tool = _infra_tool("checkov")
    proc = subprocess.run(
        [
            str(tool),
            "-d",
            str(K8S),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.stdout.strip(), (
        f"checkov printed nothing (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    )
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


def test_every_manifest_validates_strict_against_kubernetes_1_33(validation):
    failures = [
        f"{r['file']} {r['kind']}/{r['name']} [{r['target']}]: {r['error']}"
        for r in validation["results"]
        if not r["ok"]
    ]
    assert not failures, "manifests rejected:\n" + "\n".join(failures)
    assert validation["kubernetes_version"].startswith("1.33")
    # nothing skipped: one result per object, plus the RayCluster's pod templates and autoscaler sidecar
    validated = {(Path(r["file"]).name, r["kind"], r["name"]) for r in validation["results"]}
    expected = {(p.name, d["kind"], d["metadata"]["name"]) for p, d in DOCS}
    assert validated == expected
    ray = [r["target"] for r in validation["results"] if r["kind"] == "RayCluster"]
    assert any("subset schema" in t for t in ray)
    assert sum("PodTemplateSpec" in t for t in ray) == 1 + len(
        objects("RayCluster")["clinical-mlops-ray"]["spec"]["workerGroupSpecs"]
    )
    assert any("autoscalerOptions" in t for t in ray)


def _broken(tmp_path: Path, name: str, doc: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_validator_rejects_broken_manifests(tmp_path):
    deployment = copy.deepcopy(objects("Deployment")["dagster-daemon"])
    deployment["spec"]["replicas"] = "two"
    typo = copy.deepcopy(objects("Deployment")["mlflow"])
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = (
        "Always"  # unknown field: strict only
    )
    ray_bad_param = copy.deepcopy(objects("RayCluster")["clinical-mlops-ray"])
    ray_bad_param["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = (
        0  # the CRD wants strings
    )
    ray_bad_pod = copy.deepcopy(objects("RayCluster")["clinical-mlops-ray"])
    ray_bad_pod["spec"]["workerGroupSpecs"][1]["template"]["spec"]["containers"][0]["gpus"] = 1
    report = run_validator(
        _broken(tmp_path, "replicas.yaml", deployment),
        _broken(tmp_path, "typo.yaml", typo),
        _broken(tmp_path, "ray-param.yaml", ray_bad_param),
        _broken(tmp_path, "ray-pod.yaml", ray_bad_pod),
    )
    errors = {
        (Path(r["file"]).name, r["target"].split(" ")[0]): r["error"]
        for r in report["results"]
        if not r["ok"]
    }
    assert report["failed"] == 4, errors
    assert "'two' is not of type 'integer'" in errors[("replicas.yaml", "Kubernetes")]
    assert "imagePullPolicyy" in errors[("typo.yaml", "Kubernetes")]
    assert (
        "num-cpus" in errors[("ray-param.yaml", "RayCluster")]
        and "string" in errors[("ray-param.yaml", "RayCluster")]
    )
    assert "gpus" in errors[("ray-pod.yaml", "workerGroupSpecs[1].template")]


def test_checkov_reports_no_failed_check(checkov):
    summary = checkov["summary"]
    failed = [
        f"{f['check_id']} {f['check_name']} ({f['resource']}, {f['file_path']})"
        for f in checkov.get("results", {}).get("failed_checks", [])
    ]
    assert summary["failed"] == 0, "checkov failures:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100  # the checks actually ran over the Deployments


# ---------------------------------------------------------------- policy (app venv only)


def test_inventory():
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in DOCS}
    for expected in [
        ("Namespace", NAMESPACE),
        ("NetworkPolicy", "default-deny-all"),
        ("Deployment", "dagster-webserver"),
        ("Service", "dagster-webserver"),
        ("Deployment", "dagster-daemon"),
        ("Deployment", "dagster-user-code"),
        ("Service", "dagster-user-code"),
        ("ConfigMap", "dagster-instance"),
        ("ConfigMap", "dagster-workspace"),
        ("Role", "dagster-run-launcher"),
        ("RoleBinding", "dagster-run-launcher"),
        ("RayCluster", "clinical-mlops-ray"),
        ("Deployment", "mlflow"),
        ("Service", "mlflow"),
        ("Deployment", "bento-clinical-risk"),
        ("Service", "bento-clinical-risk"),
        ("HorizontalPodAutoscaler", "bento-clinical-risk"),
        ("PodDisruptionBudget", "bento-clinical-risk"),
    ]:
        assert expected in kinds, f"missing {expected}"
    assert not objects("Secret"), (
        "Secrets are provisioned externally: no Secret object in the manifests"
    )


def test_namespace_enforces_restricted_pod_security_and_everything_is_in_it():
    labels = objects("Namespace")[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for path, doc in DOCS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, (
                f"{path.name} {ident(doc)}: namespace"
            )


def test_images_are_pinned():
    images = [(owner, c["image"]) for owner, c, _ in containers()]
    images += (
        [("K8sRunLauncher job_image", dagster_instance()["run_launcher"]["config"]["job_image"])]
        if "job_image" in dagster_instance()["run_launcher"]["config"]
        else []
    )
    for owner, image in images:
        name, _, digest = image.partition("@")
        tag = name.rsplit("/", 1)[-1].partition(":")[2]
        assert digest.startswith("sha256:") or (tag and tag != "latest"), (
            f"{owner}: image {image!r} not pinned"
        )
        assert "latest" not in tag, f"{owner}: {image!r}"
    for owner, c, _ in containers():
        assert c.get("imagePullPolicy") == "Always" or "@sha256:" in c["image"], (
            f"{owner}: imagePullPolicy"
        )


def _restricted(ctx: dict, where: str) -> None:
    assert ctx.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
    assert int(ctx.get("runAsUser", 0)) >= 10000, f"{where}: runAsUser (non-zero, >= 10000)"
    assert ctx.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
    assert ctx.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
    assert ctx.get("privileged", False) is False, f"{where}: privileged"
    assert ctx.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities drop ALL"
    assert not ctx.get("capabilities", {}).get("add"), f"{where}: capabilities add"
    assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccompProfile"


def _resources(res: dict, where: str) -> None:
    for field in ("cpu", "memory"):
        assert field in res.get("requests", {}), f"{where}: requests.{field}"
        assert field in res.get("limits", {}), f"{where}: limits.{field}"
    assert res.get("requests") == res.get("limits"), (
        f"{where}: requests must equal limits (Guaranteed QoS)"
    )


def test_every_container_is_hardened_with_resources():
    for owner, c, spec in containers():
        _restricted(c.get("securityContext", {}), owner)
        _resources(c.get("resources", {}), owner)
        pod = spec.get("securityContext", {})
        assert (
            pod.get("runAsNonRoot") is True
            and pod.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        ), f"{owner}: pod securityContext"
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(flag), f"{owner}: {flag}"
        mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{owner}: read-only root filesystem needs an emptyDir on /tmp"
    # the pods the K8sRunLauncher creates and KubeRay's autoscaler sidecar get the same treatment
    launcher = dagster_instance()["run_launcher"]["config"]
    _restricted(launcher["security_context"], "K8sRunLauncher run pods")
    _resources(launcher["resources"], "K8sRunLauncher run pods")
    assert "/tmp" in {m["mountPath"] for m in launcher["volume_mounts"]}
    autoscaler = objects("RayCluster")["clinical-mlops-ray"]["spec"]["autoscalerOptions"]
    _restricted(autoscaler["securityContext"], "RayCluster autoscaler sidecar")
    _resources(autoscaler["resources"], "RayCluster autoscaler sidecar")


def test_every_long_running_container_has_probes():
    for owner, c, _ in containers():
        assert c.get("livenessProbe"), f"{owner}: livenessProbe"
        assert c.get("readinessProbe"), f"{owner}: readinessProbe"


def test_services_are_cluster_ip_and_select_pods():
    pods = [meta.get("labels", {}) for _, meta, _ in pod_specs()]
    for name, svc in objects("Service").items():
        assert svc["spec"].get("type") == "ClusterIP", (
            f"Service/{name}: only ClusterIP (ingress is separate)"
        )
        selector = svc["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pods), (
            f"Service/{name} selects no pod"
        )


def test_service_accounts_are_the_fixed_set():
    accounts = objects("ServiceAccount")
    assert set(accounts) == SERVICE_ACCOUNTS
    for name, sa in accounts.items():
        arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert re.fullmatch(r"arn:aws:iam::\d{12}:role/clinical-mlops-[a-z]+-[a-z-]+", arn), (
            f"{name}: {arn}"
        )
        assert sa.get("automountServiceAccountToken") is False, (
            f"ServiceAccount/{name}: token opt-in per pod"
        )
    used = {spec.get("serviceAccountName") for _, _, spec in pod_specs()}
    used.add(dagster_instance()["run_launcher"]["config"]["service_account_name"])
    assert used <= SERVICE_ACCOUNTS, f"unknown service accounts: {used - SERVICE_ACCOUNTS}"
    for binding in objects("RoleBinding").values():
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount" and subject["name"] in SERVICE_ACCOUNTS
        assert binding["roleRef"]["name"] in objects("Role")


def test_only_api_clients_mount_a_token():
    for owner, _, spec in pod_specs():
        token = spec.get("automountServiceAccountToken")
        if owner in API_CLIENT_PODS:
            assert token is True, f"{owner}: needs its token ({API_CLIENT_PODS[owner]})"
        else:
            assert token is False, f"{owner}: automountServiceAccountToken must be false"
    run_pod = dagster_instance()["run_launcher"]["config"]["run_k8s_config"]["pod_spec_config"]
    assert run_pod["automount_service_account_token"] is False


def test_run_launcher_role_is_minimal():
    rules = objects("Role")["dagster-run-launcher"]["rules"]
    granted = {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    allowed = (
        {("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")}
        | {("batch", "jobs/status", "get"), ("", "pods/log", "get")}
        | {("", "pods", v) for v in ("get", "list", "watch")}
    )
    assert granted <= allowed, f"more than K8sRunLauncher needs: {granted - allowed}"
    assert ("batch", "jobs", "create") in granted and ("batch", "jobs", "delete") in granted
    assert not objects("ClusterRole") and not objects("ClusterRoleBinding")
    for role in objects("Role").values():
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], (
                f"Role/{role['metadata']['name']}"
            )
            assert "secrets" not in rule["resources"]


def test_secret_refs_are_external_and_documented():
    readme = README.read_text()
    refs = set()
    for _path, doc in DOCS:
        for node in walk(doc):
            if isinstance(node, dict) and "secretKeyRef" in node:
                refs.add((node["secretKeyRef"]["name"], node["secretKeyRef"]["key"]))
            if isinstance(node, dict) and "secretRef" in node:
                refs.add((node["secretRef"]["name"], None))
    launcher = dagster_instance()["run_launcher"]["config"]
    refs |= {(name, None) for name in launcher.get("env_secrets", [])}
    assert refs, "no secret references found"
    for name, key in refs:
        assert name in EXTERNAL_SECRETS, (
            f"Secret {name} is not one of the externally provisioned secrets"
        )
        assert key is None or key in EXTERNAL_SECRETS[name], f"Secret {name} has no key {key}"
    for name, keys in EXTERNAL_SECRETS.items():
        assert f"`{name}`" in readme, f"README.md must document the external Secret {name}"
        for key in keys:
            assert f"`{key}`" in readme, f"README.md must document key {key} of {name}"


def test_no_secret_values_in_manifests():
    for path in manifest_files():
        text = path.read_text()
        assert not PASSWORD_IN_URL.search(text), f"{path.relative_to(REPO)}: credentials in a URL"
        assert not re.search(r"(?im)^\s*(password|token|secret_access_key)\s*:\s*\S", text), (
            f"{path.relative_to(REPO)}: a literal credential"
        )


def test_dagster_instance_config():
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema

    instance = dagster_instance()
    result = validate_config(dagster_instance_config_schema(), instance)
    assert result.success, [e.message for e in result.errors]
    assert instance["storage"]["postgres"]["postgres_url"] == {
        "env": "CLINICAL_MLOPS_DAGSTER_POSTGRES_URL"
    }
    text = objects("ConfigMap")["dagster-instance"]["data"]["dagster.yaml"]
    assert "postgresql://" not in text and "postgres://" not in text, (
        "dagster.yaml names the env var, never a URL"
    )

    coordinator = instance["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"] >= 1
    assert (instance["compute_logs"]["module"], instance["compute_logs"]["class"]) == (
        "dagster_aws.s3.compute_log_manager",
        "S3ComputeLogManager",
    )

    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    config = launcher["config"]
    assert set(config) <= K8S_RUN_LAUNCHER_FIELDS, (
        f"unknown K8sRunLauncher fields: {set(config) - K8S_RUN_LAUNCHER_FIELDS}"
    )
    assert set(config["run_k8s_config"]) <= RUN_K8S_CONFIG_FIELDS
    assert config["instance_config_map"] == "dagster-instance"
    assert config["job_namespace"] == NAMESPACE
    assert config["service_account_name"] == "dagster-user-code"
    assert config["image_pull_policy"] in ("Always", "IfNotPresent")
    assert "clinical-mlops-dagster-db" in config["env_secrets"]
    for name in config.get("env_config_maps", []):
        assert name in objects("ConfigMap"), f"env_config_maps: no ConfigMap {name}"
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in config["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims <= set(objects("PersistentVolumeClaim"))
    # DAGSTER_HOME of the pods = where the launcher mounts the instance ConfigMap in run pods
    for name in ("dagster-webserver", "dagster-daemon", "dagster-user-code"):
        env = {
            e["name"]: e.get("value")
            for e in objects("Deployment")[name]["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["DAGSTER_HOME"] == config["dagster_home"], name


def test_workspace_points_at_the_user_code_service():
    workspace = yaml.safe_load(objects("ConfigMap")["dagster-workspace"]["data"]["workspace.yaml"])
    [location] = workspace["load_from"]
    grpc = location["grpc_server"]
    service = objects("Service")["dagster-user-code"]
    host = grpc["host"].split(".")
    assert host[0] == service["metadata"]["name"] and (len(host) == 1 or host[1] == NAMESPACE)
    assert grpc["port"] in {p["port"] for p in service["spec"]["ports"]}

    user_code = objects("Deployment")["dagster-user-code"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    argv = user_code.get("command", []) + user_code.get("args", [])
    assert argv[:3] == ["dagster", "api", "grpc"]
    assert argv[argv.index("--module-name") + 1] == "orchestration.definitions"
    assert (REPO / "orchestration" / "definitions.py").is_file()
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    port = int(argv[argv.index("--port") + 1])
    assert port == grpc["port"] and port in {c["containerPort"] for c in user_code["ports"]}
    env = {e["name"]: e.get("value") for e in user_code["env"]}
    assert env["DAGSTER_CURRENT_IMAGE"] == user_code["image"], (
        "run pods must use the code location's image"
    )


def test_dagster_daemon_is_a_singleton():
    daemon = objects("Deployment")["dagster-daemon"]["spec"]
    assert daemon["replicas"] == 1 and daemon["strategy"]["type"] == "Recreate"


def _settings_env_names() -> set[str]:
    from clinical_mlops.settings import Settings

    prefix = Settings.model_config["env_prefix"]
    return {f"{prefix}{field}".upper() for field in Settings.model_fields}


def test_app_env_vars_are_real_settings():
    used: set[str] = set()
    for _, doc in DOCS:
        for node in walk(doc):
            if (
                isinstance(node, dict)
                and isinstance(node.get("name"), str)
                and ("value" in node or "valueFrom" in node)
            ):
                used.add(node["name"])
    used |= set(objects("ConfigMap")["clinical-mlops-settings"]["data"])
    instance = dagster_instance()
    used |= {e.split("=", 1)[0] for e in instance["run_launcher"]["config"].get("env_vars", [])}
    used |= {
        node["env"]
        for node in walk(instance)
        if isinstance(node, dict) and isinstance(node.get("env"), str)
    }
    used |= {key for keys in EXTERNAL_SECRETS.values() for key in keys}
    app = {name for name in used if name.startswith("CLINICAL_MLOPS_")}
    assert app, "no CLINICAL_MLOPS_ settings found"
    unknown = app - _settings_env_names()
    assert not unknown, f"not fields of clinical_mlops.settings.Settings: {sorted(unknown)}"


def test_platform_settings_wire_the_services_together():
    settings = objects("ConfigMap")["clinical-mlops-settings"]["data"]
    assert settings["CLINICAL_MLOPS_PROFILE"] == "prod"
    assert settings["CLINICAL_MLOPS_ONLINE_STORE"] == "redis"
    ray = objects("RayCluster")["clinical-mlops-ray"]
    assert (
        settings["CLINICAL_MLOPS_RAY_ADDRESS"] == f"ray://{ray['metadata']['name']}-head-svc:10001"
    )
    mlflow = objects("Service")["mlflow"]
    assert (
        settings["CLINICAL_MLOPS_MLFLOW_TRACKING_URI"]
        == f"http://mlflow.{NAMESPACE}.svc.cluster.local:{mlflow['spec']['ports'][0]['port']}"
    )
    # a container told where the lakehouse home is (env, or envFrom the settings ConfigMap) must mount it there
    home = settings["CLINICAL_MLOPS_HOME"]
    for owner, c, _ in containers():
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        from_settings = any(
            s.get("configMapRef", {}).get("name") == "clinical-mlops-settings"
            for s in c.get("envFrom", [])
        )
        if env.get("CLINICAL_MLOPS_HOME") == home or from_settings:
            assert home in {m["mountPath"] for m in c.get("volumeMounts", [])}, (
                f"{owner}: lakehouse not mounted"
            )
    launcher = dagster_instance()["run_launcher"]["config"]
    assert "clinical-mlops-settings" in launcher["env_config_maps"]
    assert home in {m["mountPath"] for m in launcher["volume_mounts"]}, (
        "run pods: lakehouse not mounted"
    )


def test_raycluster_head_and_gpu_workers():
    ray = objects("RayCluster")["clinical-mlops-ray"]["spec"]
    assert ray["enableInTreeAutoscaling"] is True
    head = ray["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["rayStartParams"].get("dashboard-host", "127.0.0.1") == "127.0.0.1"
    assert head["serviceType"] == "ClusterIP"
    groups = {g["groupName"]: g for g in ray["workerGroupSpecs"]}
    assert {"cpu", "gpu"} <= set(groups)
    for group in groups.values():
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["maxReplicas"] > group["minReplicas"]
    gpu = groups["gpu"]["template"]["spec"]
    limits = gpu["containers"][0]["resources"]["limits"]
    assert str(limits["nvidia.com/gpu"]) == "1"
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "true",
        "effect": "NoSchedule",
    } in gpu["tolerations"]
    assert gpu["nodeSelector"] == {"node-role/gpu": "true"}
    assert (
        "nvidia.com/gpu"
        not in groups["cpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    )
    for owner, _meta, spec in pod_specs():
        if owner.startswith("RayCluster/"):
            assert spec["serviceAccountName"] == "ray-train"
            shm = [v for v in spec["volumes"] if v.get("emptyDir", {}).get("medium") == "Memory"]
            mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
            assert shm and mounts[shm[0]["name"]] == "/dev/shm", f"{owner}: /dev/shm"
            image = spec["containers"][0]["image"]
            assert image.rsplit(":", 1)[1].startswith(
                objects("RayCluster")["clinical-mlops-ray"]["spec"]["rayVersion"]
            )


def test_mlflow_server_command():
    from mlflow.cli import server

    deployment = objects("Deployment")["mlflow"]["spec"]
    assert deployment["replicas"] == 2
    c = deployment["template"]["spec"]["containers"][0]
    argv = c["command"] + c["args"]
    assert argv[:2] == ["mlflow", "server"]
    known = {opt for param in server.params for opt in param.opts}
    flags = [a for a in argv[2:] if a.startswith("--")]
    assert set(flags) <= known, f"not options of `mlflow server`: {set(flags) - known}"
    assert argv[argv.index("--artifacts-destination") + 1].startswith("s3://")
    assert "--serve-artifacts" in argv and "--allowed-hosts" in argv
    assert argv[argv.index("--host") + 1] == "0.0.0.0" and argv[argv.index("--port") + 1] == "5000"
    assert "--backend-store-uri" not in argv, (
        "the backend URI comes from MLFLOW_BACKEND_STORE_URI (a Secret)"
    )
    env = {e["name"]: e for e in c["env"]}
    assert (
        env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]["name"]
        == "clinical-mlops-mlflow-db"
    )
    assert (
        c["readinessProbe"]["httpGet"]["path"] == c["livenessProbe"]["httpGet"]["path"] == "/health"
    )


def test_bento_serving():
    deployment = objects("Deployment")["bento-clinical-risk"]
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    assert re.search(r"/bento-serving:clinical-readmission-v\d+$", c["image"])
    assert c["ports"][0]["containerPort"] == 3000
    assert (
        c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        and c["livenessProbe"]["httpGet"]["path"] == "/livez"
    )
    env = {e["name"]: e for e in c["env"]}
    assert env["CLINICAL_MLOPS_ONLINE_STORE"]["value"] == "redis"
    assert (
        env["CLINICAL_MLOPS_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"]
        == "clinical-mlops-redis"
    )
    hpa = objects("HorizontalPodAutoscaler")["bento-clinical-risk"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "bento-clinical-risk",
    }
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = objects("PodDisruptionBudget")["bento-clinical-risk"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], (
        "a PDB as large as the HPA minimum blocks drains"
    )


def _matches(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return True
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_network_policies():
    policies = objects("NetworkPolicy")
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    dns = policies["allow-dns-egress"]["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    # every policy selects some pod; pods of the RayCluster carry KubeRay's labels
    pods = [
        meta.get("labels", {})
        | (
            {
                "ray.io/cluster": owner.split("/")[1].split(":")[0],
                "ray.io/node-type": "head" if owner.endswith(":head") else "worker",
            }
            if owner.startswith("RayCluster/")
            else {}
        )
        for owner, meta, _ in pod_specs()
    ] + [run_pod_labels()]
    for name, policy in policies.items():
        assert any(_matches(policy["spec"]["podSelector"], labels) for labels in pods), (
            f"NetworkPolicy/{name}"
        )
    # the model server is reachable from the ingress controller only
    bento = policies["bento-from-ingress"]["spec"]["ingress"]
    assert all("namespaceSelector" in peer for rule in bento for peer in rule["from"])
    # the data-store egress rules stay inside the VPC on their ports
    for name, port in (("allow-postgres-egress", 5432), ("allow-redis-egress", 6379)):
        [rule] = policies[name]["spec"]["egress"]
        assert [p["port"] for p in rule["ports"]] == [port]
        assert all(peer["ipBlock"]["cidr"] != "0.0.0.0/0" for peer in rule["to"])


def test_checkov_skips_carry_reasons_and_are_documented():
    readme = README.read_text()
    skips = []
    for _path, doc in DOCS:
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                skips.append((ident(doc), check, reason))
                assert re.fullmatch(r"CKV2?_K8S_\d+", check), f"{ident(doc)}: {value}"
                assert len(reason.split()) >= 8, f"{ident(doc)}: skip {check} needs a real reason"
                rows = [line for line in readme.splitlines() if line.startswith(f"| {check} ")]
                assert rows, f"README.md's checkov table lacks {check}"
                assert f"`{doc['metadata']['name']}`" in rows[0], (
                    f"README.md's {check} row lacks {ident(doc)}"
                )
    assert skips
