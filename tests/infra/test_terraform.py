"""Offline validation of the AWS Terraform under infra/terraform.

- ``terraform fmt -check`` over the whole tree;
- ``terraform init -backend=false`` against the local provider mirror (no network), ``terraform
  validate`` and ``terraform test`` (a full plan against a mocked AWS provider) for each environment;
- checkov with zero failed checks, every skip carrying an inline reason that the README lists;
- a few policy assertions on the HCL text (no open ingress, nothing publicly accessible, prod HA
  settings that checkov cannot see because it evaluates module code once, ``moved`` blocks from the old
  module addresses into ``module.platform``).

Nothing is written into the repository: ``TF_DATA_DIR`` points at a temporary directory and init runs
with ``-lockfile=readonly`` against the committed ``.terraform.lock.hcl`` of each environment.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TF_ROOT = REPO_ROOT / "infra" / "terraform"
ENVS = ("dev", "prod")
PLUGIN_DIR = Path(os.environ.get("CLINICAL_MLOPS_TF_PLUGIN_DIR", "/opt/tf-plugins"))
AWS_PROVIDER_DIR = PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws"
CHECKOV = REPO_ROOT / ".venv-infra" / "bin" / "checkov"

# Service accounts the Kubernetes manifests use (namespace clinical-mlops); IRSA must trust exactly these.
SERVICE_ACCOUNTS = ("dagster", "dagster-user-code", "ray-train", "mlflow", "bento-serving", "feast")

SKIP_RE = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$")


def _tf_files() -> list[Path]:
    return sorted(p for p in TF_ROOT.rglob("*.tf") if ".terraform" not in p.parts)


def _run(
    cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _describe(proc: subprocess.CompletedProcess) -> str:
    return f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def terraform_bin() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.skip("terraform is not on PATH (install Terraform >= 1.5 to run the infra checks)")
    return path


@pytest.fixture(scope="module")
def provider_mirror() -> Path:
    if not AWS_PROVIDER_DIR.is_dir():
        pytest.skip(
            f"no hashicorp/aws provider in the local mirror {PLUGIN_DIR} "
            "(set CLINICAL_MLOPS_TF_PLUGIN_DIR to a filesystem mirror holding aws 5.100.0)"
        )
    return PLUGIN_DIR


@pytest.fixture(scope="module")
def tf_base_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment isolating terraform from the user's CLI config, plugin cache and the network."""
    home = tmp_path_factory.mktemp("tf-home")
    cli_config = home / "terraformrc"
    cli_config.write_text("")  # empty: -plugin-dir alone decides where providers come from
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    return env


@pytest.fixture(scope="module", params=ENVS)
def initialized_env(
    request: pytest.FixtureRequest,
    terraform_bin: str,
    provider_mirror: Path,
    tf_base_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, str]]:
    """``terraform init`` once per environment, with all of terraform's working data under tmp."""
    env_dir = TF_ROOT / "envs" / request.param
    env = dict(tf_base_env, TF_DATA_DIR=str(tmp_path_factory.mktemp(f"tf-data-{request.param}")))
    proc = _run(
        [
            terraform_bin,
            "init",
            "-backend=false",
            f"-plugin-dir={provider_mirror}",
            "-lockfile=readonly",
            "-input=false",
            "-no-color",
        ],
        cwd=env_dir,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"terraform init failed for envs/{request.param}\n{_describe(proc)}"
    )
    return env_dir, env


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    if not CHECKOV.is_file():
        pytest.skip(
            f"checkov not installed at {CHECKOV.relative_to(REPO_ROOT)}: run `make infra-venv`"
        )
    proc = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TF_ROOT),
            "--framework",
            "terraform",
            "--skip-download",
            "--download-external-modules",
            "false",
            "-o",
            "json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    # rc is 1 when checks fail; the JSON report is what the tests judge.
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov produced no JSON report\n{_describe(proc)}")
    if isinstance(report, list):  # one entry per framework when several ran
        report = next(r for r in report if r.get("check_type") == "terraform")
    return report


# ---------------------------------------------------------------- terraform


def test_fmt_check(terraform_bin: str, tf_base_env: dict[str, str]) -> None:
    proc = _run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", "-no-color"],
        cwd=TF_ROOT,
        env=tf_base_env,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"terraform fmt -check found unformatted files (run `terraform fmt -recursive`)\n{_describe(proc)}"
    )


def test_validate(initialized_env: tuple[Path, dict[str, str]], terraform_bin: str) -> None:
    env_dir, env = initialized_env
    proc = _run(
        [terraform_bin, "validate", "-json", "-no-color"], cwd=env_dir, env=env, timeout=300
    )
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"terraform validate -json gave no JSON for envs/{env_dir.name}\n{_describe(proc)}"
        )
    problems = [
        f"{d['severity']}: {d['summary']} ({d.get('range', {}).get('filename', '?')}:"
        f"{d.get('range', {}).get('start', {}).get('line', '?')}) {d.get('detail', '')}"
        for d in result.get("diagnostics", [])
    ]
    assert proc.returncode == 0 and result["valid"], (
        f"envs/{env_dir.name} is invalid:\n" + "\n".join(problems) + proc.stderr
    )
    assert result["warning_count"] == 0, (
        f"envs/{env_dir.name} validates with warnings:\n" + "\n".join(problems)
    )


def test_mock_provider_plan(
    initialized_env: tuple[Path, dict[str, str]], terraform_bin: str
) -> None:
    """``terraform test`` plans the whole env against a mocked AWS provider (envs/<env>/tests/*.tftest.hcl):
    variable validations, for_each keys known at plan time, provider-side argument checks."""
    env_dir, env = initialized_env
    proc = _run([terraform_bin, "test", "-no-color"], cwd=env_dir, env=env, timeout=300)
    assert proc.returncode == 0, (
        f"terraform test (mock provider plan) failed for envs/{env_dir.name}\n{_describe(proc)}"
    )
    assert re.search(r"Success! [1-9][0-9]* passed, 0 failed", proc.stdout), proc.stdout


def test_init_leaves_no_files_in_the_tree(initialized_env: tuple[Path, dict[str, str]]) -> None:
    env_dir, env = initialized_env
    assert not (env_dir / ".terraform").exists(), (
        "terraform init wrote .terraform/ into the repo (TF_DATA_DIR not honoured)"
    )
    lock = (env_dir / ".terraform.lock.hcl").read_text()
    assert (
        'provider "registry.terraform.io/hashicorp/aws"' in lock
        and 'version     = "5.100.0"' in lock
    )
    assert Path(env["TF_DATA_DIR"]).is_dir()


# ---------------------------------------------------------------- checkov


@pytest.mark.slow
def test_checkov_has_no_failed_checks(checkov_report: dict) -> None:
    summary = checkov_report["summary"]
    failed = checkov_report["results"].get("failed_checks", [])
    listing = "\n".join(
        f"  {f['check_id']} {f['resource']} ({f['file_path']}:{f['file_line_range']}) {f['check_name']}"
        for f in failed
    )
    assert summary["failed"] == 0, f"checkov: {summary['failed']} failed check(s):\n{listing}"
    assert summary["parsing_errors"] == 0, (
        f"checkov could not parse: {checkov_report['results'].get('parsing_errors')}"
    )
    # A sanity floor: a tree this size yields 500+ passed checks; a collapse means checkov saw nothing.
    assert summary["passed"] >= 300, (
        f"checkov passed only {summary['passed']} checks: did it scan the tree?"
    )


@pytest.mark.slow
def test_checkov_skips_are_justified(checkov_report: dict) -> None:
    skipped = checkov_report["results"].get("skipped_checks", [])
    unjustified = [
        f"{s['check_id']} {s['resource']}"
        for s in skipped
        if len((s.get("check_result", {}).get("suppress_comment") or "").strip()) < 20
    ]
    assert not unjustified, "skips without a real reason:\n" + "\n".join(unjustified)


# ---------------------------------------------------------------- HCL text policies


def test_inline_skips_carry_reasons_listed_in_readme() -> None:
    readme = (TF_ROOT / "README.md").read_text()
    seen: set[str] = set()
    bad: list[str] = []
    for path in _tf_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            m = SKIP_RE.search(line.strip())
            if m is None or len((m.group(2) or "").strip()) < 20:
                bad.append(f"{path.relative_to(TF_ROOT)}:{n}: {line.strip()}")
            else:
                seen.add(m.group(1))
    assert not bad, (
        "every #checkov:skip needs the form `#checkov:skip=CKV_X:<reason>` with a real reason:\n"
        + "\n".join(bad)
    )
    missing = sorted(c for c in seen if c not in readme)
    assert not missing, f"skipped checks missing from the README justification table: {missing}"


def test_no_ingress_open_to_the_internet() -> None:
    offenders = []
    for path in _tf_files():
        text = path.read_text()
        offenders += [
            f"{path.relative_to(TF_ROOT)}: {m.group(0)}"
            for m in re.finditer(
                r'(cidr_ipv4|cidr_ipv6|cidr_blocks|ipv6_cidr_blocks)\s*=\s*\[?[^\n]*("0\.0\.0\.0/0"|"::/0")',
                text,
            )
        ]
        # Only the NAT default routes may mention 0.0.0.0/0 at all (besides validations that reject it).
        for n, line in enumerate(text.splitlines(), 1):
            if "0.0.0.0/0" in line and not re.search(
                r"destination_cidr_block|contains\(|error_message|description", line
            ):
                offenders.append(f"{path.relative_to(TF_ROOT)}:{n}: {line.strip()}")
    assert not offenders, "0.0.0.0/0 or ::/0 used outside NAT routes:\n" + "\n".join(offenders)


def test_nothing_is_publicly_accessible() -> None:
    for path in _tf_files():
        text = path.read_text()
        assert set(re.findall(r"publicly_accessible\s*=\s*(\S+)", text)) <= {"false"}, (
            f"{path}: publicly_accessible must be false"
        )
        assert not re.search(r"map_public_ip_on_launch\s*=\s*true", text), (
            f"{path}: no public IPs on launch"
        )
        assert not re.search(r"associate_public_ip_address\s*=\s*true", text), (
            f"{path}: no public IPs"
        )
    rds = (TF_ROOT / "modules" / "rds" / "main.tf").read_text()
    assert re.search(r"publicly_accessible\s*=\s*false", rds)
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        for module in ("lakehouse", "audit"):
            text = (TF_ROOT / "modules" / module / "main.tf").read_text()
            assert re.findall(rf"{flag}\s*=\s*(\w+)", text) and set(
                re.findall(rf"{flag}\s*=\s*(\w+)", text)
            ) == {"true"}, f"modules/{module}: {flag} must be true on every bucket"


def test_wildcard_resources_only_in_key_and_deny_policies() -> None:
    allowed = {TF_ROOT / "modules" / "kms" / "main.tf", TF_ROOT / "modules" / "secrets" / "main.tf"}
    offenders = [
        str(p.relative_to(TF_ROOT))
        for p in _tf_files()
        if re.search(r'resources\s*=\s*\[\s*"\*"\s*\]', p.read_text()) and p not in allowed
    ]
    assert not offenders, (
        f'resources = ["*"] outside KMS key policies / the secret deny policy: {offenders}'
    )
    secrets = (TF_ROOT / "modules" / "secrets" / "main.tf").read_text()
    assert re.search(r'effect\s*=\s*"Deny"', secrets), (
        "the only wildcard in modules/secrets must be a Deny"
    )


def test_irsa_trust_is_pinned_to_service_accounts() -> None:
    irsa = (TF_ROOT / "modules" / "irsa" / "main.tf").read_text()
    assert "${var.oidc_issuer_host}:sub" in irsa and "${var.oidc_issuer_host}:aud" in irsa
    assert '"system:serviceaccount:${var.namespace}:${sa}"' in irsa
    assert 'values   = ["sts.amazonaws.com"]' in irsa
    for sa in SERVICE_ACCOUNTS:
        assert f'"{sa}"' in irsa, f"service account {sa} has no IRSA role"
    variables = (TF_ROOT / "modules" / "irsa" / "variables.tf").read_text()
    assert re.search(r'variable "namespace"[^}]*default\s*=\s*"clinical-mlops"', variables, re.S)


def _module_block(text: str, name: str) -> str:
    start = text.index(f'module "{name}" {{')
    depth = 0
    for i in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError(f"unbalanced module {name}")


def _attr(block: str, key: str) -> str:
    m = re.search(rf"^\s*{key}\s*=\s*(.+?)\s*$", block, re.M)
    assert m, f"{key} not set in:\n{block}"
    return m.group(1)


def test_prod_settings_checkov_cannot_see() -> None:
    """Checkov evaluates module code once, so the env-specific HA/retention choices are pinned here:
    envs/prod sets them on module "platform", which must hand each one to the module it configures."""
    prod = _module_block((TF_ROOT / "envs" / "prod" / "main.tf").read_text(), "platform")
    assert _attr(prod, "rds_multi_az") == "true"
    assert _attr(prod, "rds_backup_retention_period") == "35"
    assert _attr(prod, "rds_deletion_protection") == "true"
    assert int(_attr(prod, "redis_num_cache_clusters")) >= 2, (
        "prod Redis needs a replica for automatic failover/Multi-AZ"
    )
    assert _attr(prod, "eks_endpoint_public_access") == "false"
    assert not re.search(r"^\s*eks_public_access_cidrs\s*=", prod, re.M), (
        "prod sets no public EKS API CIDRs"
    )
    assert _attr(prod, "enable_nat_gateway") == "true"
    assert _attr(prod, "lakehouse_object_lock_enabled") == "true"
    platform = (TF_ROOT / "modules" / "platform" / "main.tf").read_text()
    rds = _module_block(platform, "rds")
    assert _attr(rds, "multi_az") == "var.rds_multi_az"
    assert _attr(rds, "backup_retention_period") == "var.rds_backup_retention_period"
    assert _attr(rds, "deletion_protection") == "var.rds_deletion_protection"
    assert (
        _attr(_module_block(platform, "redis"), "num_cache_clusters")
        == "var.redis_num_cache_clusters"
    )
    assert (
        _attr(_module_block(platform, "eks"), "endpoint_public_access")
        == "var.eks_endpoint_public_access"
    )
    assert (
        _attr(_module_block(platform, "network"), "enable_nat_gateway") == "var.enable_nat_gateway"
    )
    assert (
        _attr(_module_block(platform, "lakehouse"), "object_lock_enabled")
        == "var.lakehouse_object_lock_enabled"
    )


def test_envs_only_call_the_platform_module() -> None:
    """Each env is thin: its values, one module "platform" (the shared composition), outputs passed through."""
    for env in ENVS:
        text = "\n".join(p.read_text() for p in sorted((TF_ROOT / "envs" / env).glob("*.tf")))
        assert set(re.findall(r'^module "([a-z_]+)"', text, re.M)) == {"platform"}, (
            f"envs/{env}: only module platform"
        )
        assert "moved {" not in text, f"envs/{env}: no state was ever applied with another layout"


def test_every_env_tags_phi_and_pins_provider() -> None:
    for env in ENVS:
        versions = (TF_ROOT / "envs" / env / "versions.tf").read_text()
        for tag in ("Project", "Environment", "DataClassification", "ManagedBy"):
            assert re.search(rf"^\s*{tag}\s*=", versions, re.M), (
                f"envs/{env}: default tag {tag} missing"
            )
        assert re.search(r'DataClassification\s*=\s*"PHI"', versions)
        assert re.search(r'backend\s+"s3"', versions), f"envs/{env}: S3 backend block missing"
    for path in _tf_files():
        text = path.read_text()
        for m in re.finditer(r'source\s*=\s*"([^"]+)"', text):
            assert m.group(1) == "hashicorp/aws" or m.group(1).startswith("../"), (
                f"{path.relative_to(TF_ROOT)}: only local modules and hashicorp/aws are allowed, got {m.group(1)}"
            )


def test_kms_keys_rotate_and_data_stores_use_them() -> None:
    kms = (TF_ROOT / "modules" / "kms" / "main.tf").read_text()
    assert re.search(r"enable_key_rotation\s*=\s*true", kms)
    rds = (TF_ROOT / "modules" / "rds" / "main.tf").read_text()
    for needle in (
        "storage_encrypted     = true",
        "manage_master_user_password   = true",
        "iam_database_authentication_enabled = true",
        'value        = "1"',
    ):
        assert needle in rds, f"modules/rds: {needle!r} missing"
    assert re.search(r'name\s*=\s*"rds\.force_ssl"', rds)
    redis = (TF_ROOT / "modules" / "redis" / "main.tf").read_text()
    for needle in (
        "at_rest_encryption_enabled = true",
        "transit_encryption_enabled = true",
        "auth_token ",
    ):
        assert needle in redis, f"modules/redis: {needle!r} missing"


# ---------------------------------------------------------------- Terraform <-> Kubernetes manifests

K8S_ROOT = REPO_ROOT / "infra" / "kubernetes"
ECR_IMAGE_RE = re.compile(
    r"\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/clinical-mlops/prod/([a-z0-9._-]+)[:@]"
)


def _manifest_text() -> str:
    return "\n".join(p.read_text() for p in sorted(K8S_ROOT.rglob("*.yaml")))


def test_ecr_repositories_cover_the_manifest_images() -> None:
    images = set(ECR_IMAGE_RE.findall(_manifest_text()))
    assert images >= {"pipeline", "ray", "mlflow", "bento-serving"}, images
    block = _module_block((TF_ROOT / "modules" / "platform" / "main.tf").read_text(), "ecr")
    m = re.search(r"for_each\s*=\s*toset\(\[([^\]]*)\]\)", block)
    assert m, "modules/platform: module ecr must be instantiated per image"
    repos = set(re.findall(r'"([^"]+)"', m.group(1)))
    assert images <= repos, f"modules/platform: no ECR repository for {sorted(images - repos)}"
    assert _attr(block, "repository_name") == '"clinical-mlops/${var.environment}/${each.key}"'
    for env in ENVS:
        main = (TF_ROOT / "envs" / env / "main.tf").read_text()
        assert re.search(rf'^\s*environment\s*=\s*"{env}"', main, re.M), (
            f"envs/{env}: local.environment must be {env!r}"
        )
        assert _attr(_module_block(main, "platform"), "environment") == "local.environment"
    ecr = (TF_ROOT / "modules" / "ecr" / "main.tf").read_text()
    for needle in (
        'image_tag_mutability = "IMMUTABLE"',
        "scan_on_push = true",
        'encryption_type = "KMS"',
    ):
        assert needle in ecr, f"modules/ecr: {needle!r} missing"


def test_efs_is_encrypted_tls_only_and_matches_the_manifests() -> None:
    efs = (TF_ROOT / "modules" / "efs" / "main.tf").read_text()
    assert re.search(r"encrypted\s*=\s*true", efs) and re.search(
        r"kms_key_id\s*=\s*var\.kms_key_arn", efs
    )
    assert re.search(r'status\s*=\s*"ENABLED"', efs), "EFS backup policy must be enabled"
    assert "transition_to_ia" in efs, "EFS lifecycle policy missing"
    # NFS only, only from a referenced security group (never a CIDR)
    assert re.search(r"from_port\s*=\s*2049", efs) and re.search(r"to_port\s*=\s*2049", efs)
    assert (
        "referenced_security_group_id = var.allowed_security_group_id" in efs
        and "cidr_ipv4" not in efs
    )
    # file-system policy: deny non-TLS, allow only the CSI driver role through the access point
    fs_policy = efs[efs.index('data "aws_iam_policy_document" "file_system"') :]
    assert re.search(r'effect\s*=\s*"Deny"', fs_policy) and '"aws:SecureTransport"' in fs_policy
    assert re.search(r"identifiers\s*=\s*\[aws_iam_role\.csi\.arn\]", fs_policy)
    assert (
        "elasticfilesystem:AccessPointArn" in fs_policy
        and "ClientRootAccess" not in fs_policy.split("AllowCsi")[1]
    )
    assert '"system:serviceaccount:kube-system:${sa}"' in efs and '"efs-csi-controller-sa"' in efs
    assert 'addon_name                  = "aws-efs-csi-driver"' in efs
    assert "AmazonEFSCSIDriverPolicy" not in re.sub(r"#.*", "", efs), "use the scoped inline policy"
    # access point identity == the pods' runAsUser / runAsGroup
    manifests = _manifest_text()
    uids = {int(u) for u in re.findall(r"runAsUser:\s*(\d+)", manifests)}
    gids = {int(g) for g in re.findall(r"(?:runAsGroup|fsGroup):\s*(\d+)", manifests)}
    variables = (TF_ROOT / "modules" / "efs" / "variables.tf").read_text()
    uid = int(re.search(r'variable "posix_uid"[^}]*default\s*=\s*(\d+)', variables, re.S).group(1))
    gid = int(re.search(r'variable "posix_gid"[^}]*default\s*=\s*(\d+)', variables, re.S).group(1))
    assert uids == {uid} and gids == {gid}, (uids, gids, uid, gid)
    assert re.search(r"storageClassName:\s*efs-sc", manifests) and "ReadWriteMany" in manifests
    block = _module_block((TF_ROOT / "modules" / "platform" / "main.tf").read_text(), "efs")
    assert _attr(block, "kms_key_arn") == 'module.kms.key_arns["efs"]'
    assert _attr(block, "allowed_security_group_id") == "module.eks.cluster_security_group_id"
    assert _attr(block, "subnet_ids") == "module.network.private_subnet_ids"
    for outputs_tf in [TF_ROOT / "modules" / "platform" / "outputs.tf"] + [
        TF_ROOT / "envs" / e / "outputs.tf" for e in ENVS
    ]:
        outputs = outputs_tf.read_text()
        for name in ("efs_file_system_id", "efs_access_point_id", "ecr_repository_urls"):
            assert f'output "{name}"' in outputs, (
                f"{outputs_tf.relative_to(TF_ROOT)}: output {name} missing"
            )


def test_irsa_prefixes_match_the_manifests() -> None:
    manifests = _manifest_text()
    irsa = (TF_ROOT / "modules" / "irsa" / "main.tf").read_text()
    variables = (TF_ROOT / "modules" / "irsa" / "variables.tf").read_text()

    def default(var: str) -> str:
        return re.search(rf'variable "{var}"[^}}]*default\s*=\s*"([^"]+)"', variables, re.S).group(
            1
        )

    # Dagster compute logs (dagster.yaml: compute_logs.config.prefix), read/write for the dagster role
    compute_logs = re.search(r"compute_logs:.*?prefix:\s*(\S+)", manifests, re.S).group(1)
    assert default("dagster_compute_logs_prefix") == compute_logs.strip("/") + "/"
    dagster = irsa[
        irsa.index('data "aws_iam_policy_document" "dagster"') : irsa.index(
            'data "aws_iam_policy_document" "ray_train"'
        )
    ]
    rw = dagster[dagster.index('"ReadWriteDagsterComputeLogs"') :]
    rw = rw[: rw.index("statement {")] if "statement {" in rw else rw
    assert '"s3:GetObject"' in rw and '"s3:PutObject"' in rw
    assert 'resources = ["${local.bucket}/${var.dagster_compute_logs_prefix}*"]' in rw
    # MLflow --artifacts-destination s3://<bucket>/<prefix>: the mlflow role's (and bento's read) prefix
    dest = re.search(r"--artifacts-destination\s*\n\s*-\s*s3://[^/\s]+/(\S+)", manifests).group(1)
    assert default("mlflow_artifacts_prefix") == dest.strip("/") + "/"
