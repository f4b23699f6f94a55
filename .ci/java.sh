#!/usr/bin/env bash
# Sourced by .ci/run and run by `make test-tools` (every command is guarded: this file never fails a run).
#
# A headless Java runtime (Debian package `openjdk-17-jre-headless`) for the Spark engine tests
# (`-m spark`, tests/integration/test_spark_engine.py). Without it those tests skip and say why.

if ! command -v java >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    timeout 300 apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null 2>&1 \
        || { timeout 240 apt-get update -q >/dev/null 2>&1 \
             && timeout 300 apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null 2>&1; } \
        || echo "warning: could not install openjdk-17-jre-headless; the Spark tests will skip" >&2
fi
if command -v java >/dev/null 2>&1; then
    echo "java: $(java -version 2>&1 | head -n 1) (Spark tests)" >&2 || true
else
    echo "java: not available (not root, or no apt); the Spark tests will skip" >&2 || true
fi
