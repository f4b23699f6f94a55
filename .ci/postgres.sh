#!/usr/bin/env bash
# Sourced by .ci/run (under `set -euo pipefail`: every command here is guarded, this file never fails CI).
#
# PostgreSQL server binaries for the production-profile test (tests/e2e/test_production_profile.py: Dagster
# instance storage and the MLflow backend on PostgreSQL, the online store on Redis). The issue asks CI to start
# PostgreSQL on 127.0.0.1; instead the test session starts its own cluster from these binaries (tests/conftest.py,
# `postgres_server`): initdb into a temporary directory, a free 127.0.0.1 port, unix socket in that directory, run
# as the unprivileged `nobody` user when CI runs as root (PostgreSQL refuses root), stopped by its PID at the end.
# That satisfies the intent without a fixed port that could clash or a service outliving the tests.
# Nothing is exported: without the binaries the test skips and says why.

_pg_have_binaries() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null 2>&1
}

if ! _pg_have_binaries && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    timeout 300 apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 \
        || { timeout 240 apt-get update -q >/dev/null 2>&1 \
             && timeout 300 apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1; } \
        || echo "warning: could not install postgresql; the production-profile test will skip" >&2
    # the package may start a system cluster on 5432: the tests run their own, so stop it
    { command -v service >/dev/null 2>&1 && service postgresql stop >/dev/null 2>&1; } || true
    { command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null 2>&1 \
        && pg_lsclusters --no-header 2>/dev/null | while read -r _ver _name _rest; do
               pg_ctlcluster "$_ver" "$_name" stop >/dev/null 2>&1 || true
           done; } || true
fi
if _pg_have_binaries; then
    echo "postgresql: $( { command -v initdb >/dev/null 2>&1 && initdb --version; } \
        || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1 ) (the production-profile test starts its own)" >&2 || true
else
    echo "postgresql: not available; the production-profile test will skip" >&2 || true
fi
unset -f _pg_have_binaries
