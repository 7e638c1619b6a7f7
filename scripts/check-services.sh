#!/usr/bin/env bash
# The test suite needs PostgreSQL (store conformance on the scale-out engine). Say so
# clearly, and fail, when it is not there.
set -uo pipefail
url=${RAMPART_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
hostport=${url#*@}; hostport=${hostport%%/*}
host=${hostport%%:*}; port=${hostport##*:}
[ "$port" = "$host" ] && port=5432
if ! timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
  echo "error: PostgreSQL is required by the test suite and is not reachable at $host:$port" >&2
  echo "hint: start it (pg_ctlcluster <version> main start) or set RAMPART_TEST_POSTGRES_URL" >&2
  exit 1
fi
echo "services: PostgreSQL reachable at $host:$port"
