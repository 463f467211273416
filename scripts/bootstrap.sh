#!/usr/bin/env bash
# Installs what vfio-node needs, and only what is missing, so that it is quick the
# second time: Debian packages for the QEMU lab and the peers, pnpm, the npm
# dependencies, the native addon and the TypeScript build. Debian 12, Node 20, root.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- Debian packages -----------------------------------------------------------------
# The lab: qemu-system-x86 linux-image-amd64 busybox-static cpio kmod.
# The peers we compare with: fio (kernel driver), qemu-utils (QEMU's userspace NVMe driver).
# The native build: make g++ python3. The NVMe/TCP lab test's initiator (the guest kernel's client tool): nvme-cli.
# The HTML report's browser test (test/browser, headless): chromium.
APT_PACKAGES=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod iproute2 fio qemu-utils make g++ python3 nvme-cli chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "install them as root: apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]} (about 3 minutes on a fresh machine)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- pnpm and the npm dependencies ------------------------------------------------------
if ! command -v pnpm >/dev/null 2>&1; then
  say "installing pnpm"
  npm install -g --silent pnpm@10.34.8 >/dev/null
fi
if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  say "installing npm dependencies"
  CI=true pnpm install --frozen-lockfile --ignore-scripts --reporter=silent
fi

# --- the native addon -------------------------------------------------------------------
# Built here, not by the install above (--ignore-scripts skips @vfio-node/native's install
# script, which a user's npm install runs): native/scripts/build.sh uses Node's own headers
# when the Node binary's prefix has them (/usr/include/node for Debian's nodejs), no network.
addon=native/build/Release/vfio_node.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp -newer "$addon" 2>/dev/null | head -n1)" ]; then
  say "building the native addon"
  bash native/scripts/build.sh --loglevel=error >/dev/null || {
    say "the native build failed: run 'bash native/scripts/build.sh' to see why"
    exit 1
  }
fi

# --- TypeScript -------------------------------------------------------------------------
npx --no-install tsc -b || { say "the TypeScript build failed"; exit 1; }
