#!/usr/bin/env bash
# Runs the unit tests on Node.js 24 LTS. Node 24 comes from the npm registry (`node@24`, which
# ships the binary and its headers); native modules (better-sqlite3) are built against those
# headers in a separate copy of the tree so the Node 20 build stays untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${NODE24_PREFIX:-/opt/node24}
if [ ! -x "$PREFIX/bin/node" ] || ! "$PREFIX/bin/node" --version | grep -q '^v24\.'; then
  npm install -g --prefix "$PREFIX" node@24 --no-audit --no-fund
fi
NODE24_DIR=$(dirname "$(dirname "$(readlink -f "$PREFIX/bin/node")")")
[ -d "$NODE24_DIR/include/node" ] || NODE24_DIR=$(find "$PREFIX" -type d -name 'node-linux-*' | head -1)
WORK=${NODE24_WORKDIR:-/tmp/portcullis-node24}
rm -rf "$WORK"
mkdir -p "$WORK"
git ls-files -z | xargs -0 cp --parents -t "$WORK"
SHARED=${PORTCULLIS_SHARED_DATA:-$(cd .. && pwd)/shared/data}
cd "$WORK"
export PATH="$PREFIX/bin:$PATH"
export npm_config_nodedir="$NODE24_DIR"
echo "Node $(node --version), headers from $NODE24_DIR"
npm ci --no-audit --no-fund
PORTCULLIS_SHARED_DATA="$SHARED" node scripts/run-tests.mjs --unit
