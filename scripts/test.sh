#!/usr/bin/env bash
# The whole test suite, after scripts/bootstrap.sh: host unit tests, then the lab
# tests inside one boot of the QEMU lab (real VFIO against QEMU's NVMe and virtio-net
# models), then the host-side end-to-end tests that boot labs of their own. A lab that
# cannot boot fails the run: nothing here skips.
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d /tmp/vfio-node-test.XXXXXX)
trap 'rm -rf "$results"' EXIT
vitest=node_modules/.bin/vitest
status=0
reports=()

step() { printf '\n=== %s ===\n' "$*"; }

step "host unit tests"
$vitest run --project unit --reporter=default --reporter=json --outputFile.json="$results/unit.json" || status=1

step "lab tests (one QEMU boot, devices bound to vfio-pci)"
node packages/cli/bin/vfio-node.js lab run \
  --nvme size=256M,serial=LABSERIAL \
  --nvme size=64M,lba=4096,namespaces=2,serial=VFIONODE1 \
  --nics 2 --hugepages 256 --out "$results/lab" --timeout 1500 \
  -- sh -c "$vitest run --project lab --reporter=default --reporter=json --outputFile.json=\$VFIO_LAB_OUT/lab.json" || status=1

# Scenarios that need a lab of their own: the first line of each file is `// lab: ARGS`.
for f in test/lab-scenarios/*.test.ts; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .test.ts)
  args=$(head -n1 "$f" | sed -n 's|^// lab: ||p')
  if [ -z "$args" ]; then echo "$f: the first line must be '// lab: ARGS'"; status=1; continue; fi
  step "lab scenario $name ($args)"
  # shellcheck disable=SC2086
  node packages/cli/bin/vfio-node.js lab run $args --out "$results/$name" --timeout 900 \
    -- sh -c "$vitest run --project scenario $f --reporter=default --reporter=json --outputFile.json=\$VFIO_LAB_OUT/report.json" || status=1
  reports+=("$results/$name/report.json")
done

step "end-to-end tests (host side, each boots its own lab)"
$vitest run --project e2e --reporter=default --reporter=json --outputFile.json="$results/e2e.json" || status=1

step "summary"
node scripts/summarize-tests.mjs "$results/unit.json" "$results/lab/lab.json" "${reports[@]}" "$results/e2e.json" || status=1
exit $status
