"""docs/configuration.md is generated from the settings: it must match them, every field, secrets without a
default value."""

from __future__ import annotations

from cli.config_doc import REGENERATE, settings_markdown
from clinical_mlops.settings import Settings
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "configuration.md"


def test_configuration_doc_is_up_to_date():
    assert DOC.exists(), f"docs/configuration.md is missing: regenerate it with `{REGENERATE}`"
    assert DOC.read_text() == settings_markdown(), (
        f"docs/configuration.md differs from the settings: regenerate it with `{REGENERATE}`"
    )


def test_every_setting_has_a_row_and_secrets_show_no_default():
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in settings_markdown().splitlines()
        if line.startswith("| `CLINICAL_MLOPS_")
    }
    assert set(rows) == {f"CLINICAL_MLOPS_{name.upper()}" for name in Settings.model_fields}
    secrets = ["DEID_KEY", "REDIS_URL", "OPENLINEAGE_API_KEY", "DAGSTER_POSTGRES_URL"]
    for name in secrets:
        default = rows[f"CLINICAL_MLOPS_{name}"].split(" | ")[2]
        assert default == "(secret)", (name, default)
    assert "| `.clinical-mlops` |" in rows["CLINICAL_MLOPS_HOME"]
