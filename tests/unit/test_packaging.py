"""Every top-level package of the repository ships in the distribution: `pip install -e .` maps only the
packages `[tool.setuptools.packages.find]` includes, so a new package missing there imports under pytest (the
repository root is on sys.path) but not from the installed `clinical-mlops` command."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.conftest import REPO_ROOT


def test_every_top_level_package_is_included_in_the_distribution():
    include = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = sorted(
        p.parent.name for p in REPO_ROOT.glob("*/__init__.py") if p.parent.name != "tests"
    )
    assert len(packages) > 10
    missing = [p for p in packages if not any(fnmatch.fnmatch(p, pattern) for pattern in include)]
    assert not missing, (
        f"add {missing} to [tool.setuptools.packages.find] include in pyproject.toml"
    )
