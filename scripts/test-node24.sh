#!/usr/bin/env bash
# Runs the unit tests on Node.js 24 LTS (our users' runtime). Node 24 comes from the npm registry
# (`node@24`). The tests run in this tree, on the dependencies `npm ci` installed under Node 20:
# they are plain JavaScript except better-sqlite3's native build, which Node 24 never loads (the
# database adapter uses the built-in `node:sqlite` there; see src/adapters/db/connect-database.ts),
# so no second install or native build is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${NODE24_PREFIX:-/opt/node24}
if [ ! -x "$PREFIX/bin/node" ] || ! "$PREFIX/bin/node" --version | grep -q '^v24\.'; then
  npm install -g --prefix "$PREFIX" node@24 --no-audit --no-fund
fi
echo "Node $("$PREFIX/bin/node" --version)"
"$PREFIX/bin/node" scripts/run-tests.mjs --unit
