#!/usr/bin/env bash
# Builds the native addon from source: `build.sh` into build/Release (what the repository
# loads), `build.sh --prebuild` into prebuilds/linux-x64 with prebuildify (what the
# published package ships). Both use the running Node's own headers when it has them
# (<prefix>/include/node, as Debian's and NodeSource's nodejs packages install them), so
# no network is needed; otherwise node-gyp downloads the headers of this Node version.
# npm_config_nodedir, when set (`npm config set nodedir ...`), wins.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${npm_config_nodedir:-}" ]; then
  prefix=$(node -p 'require("node:path").resolve(process.execPath, "..", "..")')
  if [ -f "$prefix/include/node/node_api.h" ]; then export npm_config_nodedir=$prefix; fi
fi

jobs=${JOBS:-2}
if [ "${1:-}" = --prebuild ]; then
  # prebuildify compiles in a copy of the sources (its node-gyp rebuild would otherwise
  # replace build/, which the repository loads, and move the addon out of it).
  # --napi: one binary for every Node version with N-API 8 (binding.gyp's NAPI_VERSION);
  # --tag-libc: named *.glibc.node, so that musl (Alpine) compiles from source instead;
  # --strip: no debugging symbols. The target only names the headers to use when
  # npm_config_nodedir is set; it is this Node's version.
  # The copy sits next to native/ (a direct child of the repository): pnpm's .bin shims in
  # node_modules find their packages at ../../../node_modules/.pnpm from there.
  work=$(mktemp -d "$(cd .. && pwd)/.prebuild.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cp -r binding.gyp package.json src "$work/"
  ln -s "$PWD/node_modules" "$work/node_modules"
  rm -rf prebuilds
  JOBS=$jobs npx --no-install prebuildify --napi --strip --tag-libc --target "node@$(node -p process.versions.node)" \
    --cwd "$work" --out "$PWD" "${@:2}" || {
    node scripts/build-failed.js
    exit 1
  }
else
  npx --no-install node-gyp rebuild -j "$jobs" "$@" || {
    node scripts/build-failed.js
    exit 1
  }
fi
