#!/usr/bin/env bash
# Sourced by .ci/run and run by `make test-tools` (never fails a run).
#
# Terraform and the hashicorp/aws provider mirror for the infra tests (tests/infra/test_terraform.py).
# Neither comes from a registry these machines reach (PyPI, Debian, npm): Terraform is a HashiCorp
# download and Debian does not package it. The build image carries both (/usr/local/bin/terraform, the
# provider mirror at /opt/tf-plugins, or CLINICAL_MLOPS_TF_PLUGIN_DIR). Elsewhere, install Terraform >= 1.5
# and a filesystem mirror of hashicorp/aws 5.100.0 yourself; without them those tests skip and say why.
# checkov and the Kubernetes schemas come from PyPI (`make infra-venv`).

_tf_mirror="${CLINICAL_MLOPS_TF_PLUGIN_DIR:-/opt/tf-plugins}"
if command -v terraform >/dev/null 2>&1; then
    echo "terraform: $(terraform version 2>/dev/null | head -n 1) (infra tests)" >&2 || true
else
    echo "terraform: not on PATH; the Terraform tests will skip (see docs/operations.md)" >&2 || true
fi
if [ ! -d "$_tf_mirror/registry.terraform.io/hashicorp/aws" ]; then
    echo "terraform: no hashicorp/aws provider mirror under $_tf_mirror; the Terraform tests will skip" >&2 || true
fi
unset _tf_mirror
