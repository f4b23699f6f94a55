"""The code version every write and model records: git commit, dirty flag and the lock file's digest."""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = PROJECT_ROOT / "requirements.lock"


def lock_digest(path: Path = LOCK_FILE) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """{"git_sha", "git_dirty", "lock_sha256"}; "unknown" where not available (e.g. an installed wheel)."""
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_sha": sha or "unknown",
        "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
        "lock_sha256": lock_digest() or "unknown",
    }
