#!/usr/bin/env bash
# Sourced by .ci/run (under `set -euo pipefail`: every command here is guarded, this file never fails CI).
#
# Headless Chromium (Debian package `chromium`) for the Dagster UI screenshots taken by
# tests/e2e/test_dagster_ui.py (kept under $CLINICAL_MLOPS_TEST_ARTIFACTS, default .test-artifacts/dagster-ui/).
# Optional: without it that one test skips and says why. Nothing is started and nothing is exported.

_chromium_bin() {
    command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true
}

if [ -z "$(_chromium_bin)" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    timeout 300 apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
        || { timeout 240 apt-get update -q >/dev/null 2>&1 \
             && timeout 300 apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; } \
        || echo "warning: could not install chromium; the Dagster UI screenshot test will skip" >&2
fi
if [ -n "$(_chromium_bin)" ]; then
    echo "chromium: $( { timeout 30 "$(_chromium_bin)" --version 2>/dev/null; } || _chromium_bin ) (UI screenshots)" >&2 || true
else
    echo "chromium: not available; the Dagster UI screenshot test will skip" >&2 || true
fi
unset -f _chromium_bin
