"""Nothing downstream of de-identification may read bronze (the zone that holds PHI).

Two nets: a static scan of every project module outside ingestion and de-identification for anything
that reaches a bronze table (the settings' ``bronze`` path, a "bronze" path or asset key, the bronze
table registry), and the asset graph: no asset outside the ingestion/bronze/silver groups may depend
on a bronze asset.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# the stages allowed to read bronze
ALLOWED_PACKAGES = {"ingestion", "deid"}
ALLOWED_FILES = {"assets/ingestion.py", "assets/deid.py"}
# the auditors' lineage tools walk the chain down to the raw export by design (issue: trace and verify): they
# open bronze Delta *logs* (versions, commit metadata, data files present) and the landing manifest table
# (path, size, sha256 of each landing file), never bronze rows with patient data; nothing in the ML zone
# imports them (checked below)
AUDIT_FILES = {"audit/trace.py", "audit/verify.py", "audit/retention.py", "cli/lineage_commands.py"}
# places that name the bronze zone without reading it, with the reason
ALLOWED_FUNCTIONS = {
    ("clinical_mlops/settings.py", "bronze"): "defines where the zone lives",
    ("clinical_mlops/settings.py", "ensure_layout"): "creates the zone directory",
    ("cli/main.py", "ingest"): "the ingestion command hands the path to ingestion code",
    ("cli/main.py", "show_config"): "prints the configured paths",
    ("cli/main.py", "_print_ingest"): "prints ingestion's own report",
}
PROJECT_PACKAGES = [
    "clinical_mlops",
    "cli",
    "audit",
    "orchestration",
    "assets",
    "training",
    "serving",
    "feature_store",
    "features",
    "cohort",
    "ingestion",
    "lakehouse",
    "lineage",
    "deid",
    "evaluation",
    "monitoring",
]
BRONZE_REGISTRY = {
    "TABLES",
    "BRONZE_OUTPUTS",
    "QUARANTINE_TABLE",
    "DUPLICATES_TABLE",
    "AUDIT_TABLE",
    "SNAPSHOT_TABLE",
}


def _modules() -> list[Path]:
    return sorted(p for pkg in PROJECT_PACKAGES for p in (REPO_ROOT / pkg).rglob("*.py"))


def _checked(path: Path) -> bool:
    rel = path.relative_to(REPO_ROOT).as_posix()
    return rel.split("/")[0] not in ALLOWED_PACKAGES and rel not in ALLOWED_FILES | AUDIT_FILES


class BronzeFinder(ast.NodeVisitor):
    def __init__(self, rel: str):
        self.rel = rel
        self.function: list[str] = []
        self.findings: list[str] = []

    def _report(self, node: ast.AST, what: str) -> None:
        if any((self.rel, f) in ALLOWED_FUNCTIONS for f in self.function):
            return
        self.findings.append(f"{self.rel}:{node.lineno}: {what}")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 - ast.NodeVisitor naming

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "bronze":
            self._report(node, "reads the bronze zone path (.bronze)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and (
            node.value == "bronze" or node.value.startswith("bronze/") or "/bronze/" in node.value
        ):
            self._report(node, f"names the bronze zone ({node.value!r})")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if (
            node.module == "ingestion.bronze_tables"
            or (node.module or "").startswith("ingestion.")
            and any(a.name in BRONZE_REGISTRY for a in node.names)
        ):
            self._report(node, f"imports the bronze table registry from {node.module}")


def bronze_findings(paths: list[Path]) -> list[str]:
    findings = []
    for path in paths:
        rel = path.relative_to(REPO_ROOT).as_posix()
        finder = BronzeFinder(rel)
        finder.visit(ast.parse(path.read_text(), filename=rel))
        findings += finder.findings
    return findings


def test_no_module_outside_ingestion_and_deid_reaches_bronze():
    checked = [p for p in _modules() if _checked(p)]
    assert len(checked) > 10
    findings = bronze_findings(checked)
    assert not findings, "modules outside ingestion/de-identification reach bronze:\n" + "\n".join(
        findings
    )


def test_the_scan_catches_a_bronze_read(tmp_path, monkeypatch):
    module = REPO_ROOT / "training" / "_probe_reads_bronze.py"
    module.write_text(
        "from deltalake import DeltaTable\n\n"
        "def load(settings):\n    return DeltaTable(str(settings.bronze / 'patients'))\n\n"
        "def load2(home):\n    return DeltaTable(f'{home}/bronze/notes')\n"
    )
    try:
        findings = bronze_findings([module])
    finally:
        module.unlink()
    assert len(findings) == 2 and all("training/_probe_reads_bronze.py" in f for f in findings)


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_no_asset_outside_deid_depends_on_bronze():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    offenders = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name in {"ingestion", "bronze", "silver"}:
            continue
        offenders += [
            f"{key.to_user_string()} <- {p.to_user_string()}"
            for p in node.parent_keys
            if p.path[0] == "bronze"
        ]
    assert not offenders, f"assets downstream of silver read bronze: {offenders}"
    silver_readers = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "silver"]
    assert silver_readers, "the silver group exists"


def test_the_ml_zone_does_not_import_the_audit_tools():
    """The audit tools may open bronze logs and the landing manifest; the ML zone must not reach them either."""
    audit_modules = {f.removesuffix(".py").replace("/", ".") for f in AUDIT_FILES}
    ml_zone = [
        "training",
        "serving",
        "feature_store",
        "features",
        "evaluation",
        "monitoring",
        "assets",
        "orchestration",
    ]
    found = []
    for path in sorted(p for pkg in ml_zone for p in (REPO_ROOT / pkg).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [
                f"{path.relative_to(REPO_ROOT)}:{node.lineno}: imports {n}"
                for n in names
                if n in audit_modules
            ]
    assert not found, "\n".join(found)
