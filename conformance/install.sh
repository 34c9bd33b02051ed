#!/usr/bin/env bash
# Installs the pinned agent CLIs (package.json + the committed package-lock.json beside this
# script) into a cache folder outside the clone, keyed by the lockfile's hash, so
# repeated runs reuse it and a changed pin gets a fresh folder. Prints the bin dir on stdout
# (progress goes to stderr), e.g.:  export ORX_CONFORMANCE_BIN="$(conformance/install.sh)"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/package-lock.json"
command -v npm >/dev/null || { echo "conformance/install.sh: npm is not on PATH; install Node.js 20+ and npm" >&2; exit 1; }
hash="$(sha256sum "$lock" | cut -c1-16)"
cache="${ORX_CLI_CACHE:-${HOME:-/tmp}/.cache/orx-conformance}"
dest="$cache/$hash"
bin="$dest/node_modules/.bin"
if [[ -f "$dest/.installed" ]]; then
  echo "conformance: pinned CLIs already installed in $dest" >&2
  echo "$bin"
  exit 0
fi
echo "conformance: installing pinned CLIs into $dest" >&2
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp "$here/package.json" "$lock" "$tmp/"
# `npm install` on the committed lockfile rather than `npm ci`: the lockfile holds the platform
# packages of OpenCode and Qwen Code's clipboard helper only for the platforms the registry
# served when it was written, and `npm ci` refuses a lockfile that lacks any platform's.
# Versions still come from the lockfile; --no-save leaves it as committed.
(cd "$tmp" && npm install --no-save --no-audit --no-fund --loglevel=error 1>&2)
for cli in claude codex gemini opencode qwen; do
  [[ -x "$tmp/node_modules/.bin/$cli" ]] || { echo "conformance/install.sh: npm ci finished but node_modules/.bin/$cli is missing" >&2; exit 1; }
done
touch "$tmp/.installed"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$bin"
