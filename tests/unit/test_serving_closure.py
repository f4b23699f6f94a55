"""The Bento carries exactly the modules the service imports: no CLI, audit tool or Dagster layer."""

from __future__ import annotations

import json
import subprocess
import sys

from serving.build import ENTRY_MODULES, source_files
from serving.closure import module_closure
from tests.conftest import REPO_ROOT

NEVER_SHIPPED = ("cli", "audit", "assets", "orchestration", "cohort", "ingestion", "monitoring")


def _module_name(path) -> str:
    rel = path.relative_to(REPO_ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def test_the_bento_ships_no_cli_audit_or_dagster_code():
    shipped = {p.relative_to(REPO_ROOT).parts[0] for p in source_files() if p.suffix == ".py"}
    assert {"serving", "training"} <= shipped
    assert not shipped & set(NEVER_SHIPPED), sorted(shipped & set(NEVER_SHIPPED))
    assert (REPO_ROOT / "requirements.lock") in source_files()


def test_every_module_the_service_loads_is_shipped():
    """Import the service and the model's code in a clean interpreter: each of our modules they load must be
    shipped (the registered pyfunc is an MLflow model from code, training/mlflow_model.py)."""
    ours = sorted({p.parent.name for p in REPO_ROOT.glob("*/__init__.py")} - {"tests"})
    code = (
        f"import json, sys; {'; '.join(f'import {m}' for m in ENTRY_MODULES)}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {ours!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    shipped = {_module_name(p) for p in module_closure(REPO_ROOT, ENTRY_MODULES)}
    assert loaded, "the service imported none of our modules?"
    assert loaded <= shipped, f"loaded by the service but not shipped: {sorted(loaded - shipped)}"


def test_closure_follows_relative_and_function_level_imports(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from . import b\ndef f():\n    from pkg.c import x\n")
    (tmp_path / "pkg" / "b.py").write_text("import json\n")
    (tmp_path / "pkg" / "c.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "unused.py").write_text("")
    names = [p.relative_to(tmp_path).as_posix() for p in module_closure(tmp_path, ["pkg.a"])]
    assert names == ["pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/c.py"]
