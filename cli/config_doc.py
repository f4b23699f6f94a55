"""The configuration reference (docs/configuration.md), generated from ``Settings.model_fields``.

Pure: it reads the settings class, never the environment or a lakehouse home, so the document is the same on
every machine. tests/unit/test_config_doc.py fails when docs/configuration.md differs from it.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

from pydantic import SecretStr

from clinical_mlops.settings import Settings

REGENERATE = ".venv/bin/clinical-mlops config --markdown > docs/configuration.md"

_BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def _members(annotation: object) -> tuple[list[object], bool]:
    """The annotation's types without None, and whether None is allowed."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return [a for a in args if a is not type(None)], type(None) in args
    return [annotation], False


def _is_secret(annotation: object) -> bool:
    return any(m is SecretStr for m in _members(annotation)[0])


def _type_name(annotation: object) -> str:
    members, optional = _members(annotation)
    names = []
    for member in members:
        if typing.get_origin(member) is typing.Literal:
            names.append(" | ".join(f"`{v}`" for v in typing.get_args(member)))
        elif member is SecretStr:
            names.append("secret string")
        elif member is Path:
            names.append("path")
        else:
            names.append(getattr(member, "__name__", str(member)))
    return " or ".join(names) + (", optional" if optional else "")


def _bounds(metadata: list[object]) -> str:
    found = [
        f"{symbol} {getattr(item, name)}"
        for item in metadata
        for name, symbol in _BOUNDS.items()
        if getattr(item, name, None) is not None
    ]
    return f" ({', '.join(found)})" if found else ""


def _default(annotation: object, default: object) -> str:
    if _is_secret(annotation):
        return "(secret)"
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def _cell(text: str) -> str:
    """Markdown table cell: `|` escaped everywhere, `<` outside code spans (`<home>` is not an HTML tag)."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;")
    return re.sub(r"\s+", " ", "`".join(parts)).strip()


def settings_markdown() -> str:
    """docs/configuration.md: one row per field of ``Settings`` (env var, type, default, description)."""
    prefix = Settings.model_config.get("env_prefix", "")
    lines = [
        "# Configuration reference",
        "",
        f"*Generated from `clinical_mlops/settings.py` by `{REGENERATE}`: do not edit by hand.*",
        "",
        "One typed settings object (`clinical_mlops.settings.Settings`), read when a command, resource or "
        "sensor evaluation starts, never at import time. Every field is an environment variable with the "
        f"prefix `{prefix}`; `clinical-mlops config` shows the effective values (secrets masked). "
        "`<home>` is the value of `CLINICAL_MLOPS_HOME`.",
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        env = f"`{prefix}{name.upper()}`"
        kind = _type_name(field.annotation) + _bounds(field.metadata)
        default = _default(field.annotation, field.default)
        lines.append(
            f"| {env} | {_cell(kind)} | {_cell(default)} | {_cell(field.description or '')} |"
        )
    return "\n".join(lines) + "\n"
