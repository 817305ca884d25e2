#!/usr/bin/env bash
# Set-up for the end-to-end test (npm run test:e2e). Idempotent: a second run only checks.
#
# Installs, OUTSIDE the project's node_modules (so `npm ci` for the unit tests stays light):
#   - Debian packages: chromium, and what code-server's native modules need to build
#     (libkrb5-dev, libx11-dev, libxkbfile-dev, libsecret-1-dev, pkg-config, python3, make, g++),
#     ripgrep (used instead of the binary @vscode/ripgrep would download from GitHub);
#   - code-server 4.100.3 and playwright-core 1.65.1 from the npm registry into .e2e/ (gitignored).
#
# code-server's postinstall (npm install in lib/vscode and lib/vscode/extensions) pulls in
# @vscode/ripgrep, whose own postinstall downloads rg from GitHub. That download first looks in a
# cache folder, $TMPDIR/vscode-ripgrep-cache-<version>/ripgrep-<rgversion>-<target>.tar.gz; we seed
# that cache with a tarball holding Debian's /usr/bin/rg, so the postinstall unpacks Debian's rg
# and never touches the network. See test/e2e/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="${E2E_PREFIX:-$ROOT/.e2e}"
CODE_SERVER_VERSION=4.100.3
# pinned: CI installs .e2e/ afresh in every clone, and a new playwright-core must not arrive unannounced
PLAYWRIGHT_VERSION=1.65.1
STAMP="$PREFIX/.installed-$CODE_SERVER_VERSION-playwright-$PLAYWRIGHT_VERSION"

log() { echo "[e2e setup] $*"; }

# --- Debian packages -------------------------------------------------------------------------
APT_PKGS=(chromium ripgrep libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config python3 make g++ tar gzip)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
  log "Debian packages present"
fi

# --- code-server + playwright-core into $PREFIX ----------------------------------------------
if [ -f "$STAMP" ] && [ -x "$PREFIX/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ] \
   && [ -d "$PREFIX/node_modules/playwright-core" ]; then
  log "code-server $CODE_SERVER_VERSION and playwright-core $PLAYWRIGHT_VERSION present in $PREFIX"
  exit 0
fi

mkdir -p "$PREFIX"
[ -f "$PREFIX/package.json" ] || echo '{ "name": "vmx-debug-e2e", "private": true }' > "$PREFIX/package.json"

log "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION (scripts off)"
(cd "$PREFIX" && npm install --no-audit --no-fund --ignore-scripts --save-exact "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION")

CS="$PREFIX/node_modules/code-server"

# code-server's own native dependency (argon2: node-pre-gyp, whose GitHub download fails here and
# falls back to building from source). code-server's postinstall is run by hand below.
log "npm rebuild argon2"
(cd "$PREFIX" && npm rebuild argon2)

# Seed @vscode/ripgrep's download cache with Debian's rg for every version code-server pins.
TMP_E2E="$PREFIX/tmp"
mkdir -p "$TMP_E2E"
RG_VERSIONS=$(node -e '
  const fs = require("fs"), vs = new Set();
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) continue;
    const pk = JSON.parse(fs.readFileSync(f, "utf8")).packages || {};
    for (const [k, v] of Object.entries(pk)) if (k.endsWith("node_modules/@vscode/ripgrep")) vs.add(v.version);
  }
  console.log([...vs].join(" "));
' "$CS/lib/vscode/npm-shrinkwrap.json" "$CS/lib/vscode/extensions/npm-shrinkwrap.json" "$CS/lib/vscode/package-lock.json" "$CS/lib/vscode/extensions/package-lock.json")
[ -n "$RG_VERSIONS" ] || RG_VERSIONS="1.15.11"
case "$(uname -m)" in
  x86_64) RG_TARGET=x86_64-unknown-linux-musl ;;
  aarch64) RG_TARGET=aarch64-unknown-linux-musl ;;
  *) echo "unsupported arch $(uname -m)"; exit 1 ;;
esac
for v in $RG_VERSIONS; do
  # The rg release tag the postinstall asks for is a constant in its lib/postinstall.js.
  d="$TMP_E2E/pack-ripgrep-$v"; mkdir -p "$d"
  (cd "$d" && [ -f package/lib/postinstall.js ] || { npm pack --silent "@vscode/ripgrep@$v" >/dev/null && tar xzf vscode-ripgrep-*.tgz; })
  tag=$(sed -n "s/^const VERSION = '\(.*\)';/\1/p" "$d/package/lib/postinstall.js")
  cache="$TMP_E2E/vscode-ripgrep-cache-$v"; mkdir -p "$cache"
  stage="$TMP_E2E/rg-stage"; rm -rf "$stage"; mkdir -p "$stage"; cp /usr/bin/rg "$stage/rg"
  tar czf "$cache/ripgrep-$tag-$RG_TARGET.tar.gz" -C "$stage" rg
  log "seeded $cache/ripgrep-$tag-$RG_TARGET.tar.gz with Debian's rg ($(/usr/bin/rg --version | sed -n 1p))"
done

# Run code-server's postinstall (npm install --omit=dev in lib/vscode and lib/vscode/extensions,
# builds native modules with node-gyp). npm_config_user_agent must say npm; root needs unsafe-perm.
log "code-server postinstall (builds native modules; several minutes)"
# npm_config_yes: node-pty's post-install runs `npx node-gyp`, which would otherwise stop at a prompt.
(cd "$CS" && TMPDIR="$TMP_E2E" npm_config_unsafe_perm=true npm_config_yes=true \
   npm_config_user_agent="npm/$(npm --version) node/$(node --version) linux x64" sh ./postinstall.sh)

rg_bin="$CS/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
[ -x "$rg_bin" ] || { echo "ripgrep binary missing at $rg_bin"; exit 1; }
"$rg_bin" --version | sed -n 1p  # sed reads to the end: no SIGPIPE for rg under pipefail
XDG_CONFIG_HOME="$TMP_E2E" XDG_DATA_HOME="$TMP_E2E" node "$CS/out/node/entry.js" --version
touch "$STAMP"
log "done"
