#!/usr/bin/env bash
# Packs every publishable package into a directory (default ./packs), as `pnpm publish`
# would publish them: pnpm pack rewrites the workspace:* ranges to the packages' versions,
# so plain `npm install ./packs/*.tgz` works in any project. Builds what the tarballs
# need first: the TypeScript (dist/) and the native addon's prebuilt binary
# (native/prebuilds/linux-x64, made with prebuildify; rebuilt only when native/src or
# binding.gyp changed). Run after scripts/bootstrap.sh. Usage: scripts/pack.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-packs}")

say() { printf 'pack: %s\n' "$*" >&2; }

# The packages a user installs, lowest layer first.
PACKAGES=(native packages/core packages/lab drivers/nvme drivers/virtio-net packages/runtime packages/bdev packages/nvmf bench packages/cli)

npx --no-install tsc -b || { say "the TypeScript build failed"; exit 1; }

# (none yet on a fresh clone: find fails on the missing directory, which pipefail would make fatal)
prebuild=$(find native/prebuilds/linux-x64 -name '*.node' 2>/dev/null | head -n1 || true)
if [ -z "$prebuild" ] || [ -n "$(find native/src native/binding.gyp -newer "$prebuild" | head -n1)" ]; then
  say "building the native addon's prebuilt binary (prebuildify)"
  bash native/scripts/build.sh --prebuild --quiet || exit 1
fi

rm -rf "$out"
mkdir -p "$out"
filters=()
for dir in "${PACKAGES[@]}"; do filters+=(--filter "./$dir"); done
pnpm "${filters[@]}" --workspace-concurrency=4 pack --pack-destination "$out" >/dev/null || { say "pnpm pack failed"; exit 1; }
n=$(find "$out" -name '*.tgz' | wc -l)
[ "$n" = "${#PACKAGES[@]}" ] || { say "pnpm pack made $n tarballs, not ${#PACKAGES[@]}"; exit 1; }
(cd "$out" && ls -l --block-size=K ./*.tgz | awk '{print "pack: " $5 "\t" $9}' >&2)
