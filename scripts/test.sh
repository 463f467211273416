#!/usr/bin/env bash
# The whole test suite, after scripts/bootstrap.sh: host unit tests, the HTML report in
# headless Chromium, the packages as a user installs them (packed, installed with npm
# outside the repository), then the lab tests inside one boot of the QEMU lab (real VFIO
# against QEMU's NVMe and virtio-net models), then the host-side end-to-end tests that
# boot labs of their own. A lab that cannot boot fails the run: nothing here skips.
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d /tmp/vfio-node-test.XXXXXX)
trap 'rm -rf "$results"' EXIT
vitest=node_modules/.bin/vitest
status=0

step() { printf '\n=== %s ===\n' "$*"; }
stages=()

# What a stage should run, listed before it runs (vitest list: collection only, no test
# body, no device; placeholder lab addresses so the lab files can be collected on the
# host). The summary counts listed tests that never ran as failures.
list() { # NAME vitest-list-args...
  local name=$1
  shift
  VFIO_LAB_NVME="0000:00:03.0 0000:00:04.0" VFIO_LAB_NICS="0000:00:05.0 0000:00:06.0" \
    $vitest list "$@" --json="$results/$name.list.json" >/dev/null 2>"$results/$name.list.err" ||
    { echo "vitest could not list the $name tests:"; tail -n 20 "$results/$name.list.err"; status=1; }
}

# Why a lab stage left no report: the lab's own error line (the last 'vfio-node lab: ' line).
lab_reason() { # NAME STDERR-FILE EXIT-STATUS
  local line
  line=$(grep '^vfio-node lab: ' "$2" 2>/dev/null | tail -n 1)
  echo "${line:-vfio-node lab run ended} (exit status $3)" >"$results/$1.reason"
}

step "host unit tests"
list unit --project unit
$vitest run --project unit --reporter=default --reporter=json --outputFile.json="$results/unit.json" || { echo "vitest exited $?" >"$results/unit.reason"; status=1; }
stages+=(--stage unit "$results/unit.list.json" "$results/unit.json" "$results/unit.reason")

step "the HTML report in a real browser (Debian's headless Chromium; screenshots in test-output/report/)"
list browser --project browser
$vitest run --project browser --reporter=default --reporter=json --outputFile.json="$results/browser.json" || { echo "vitest exited $?" >"$results/browser.reason"; status=1; }
stages+=(--stage browser "$results/browser.list.json" "$results/browser.json" "$results/browser.reason")

step "installed packages (pack every package, npm install the tarballs in an empty project, use them there)"
list install --project install
$vitest run --project install --reporter=default --reporter=json --outputFile.json="$results/install.json" || { echo "vitest exited $?" >"$results/install.reason"; status=1; }
stages+=(--stage install "$results/install.list.json" "$results/install.json" "$results/install.reason")

step "lab tests (one QEMU boot, devices bound to vfio-pci)"
list lab --project lab
# (stderr also goes to a file, through tee, so that the lab's error can be quoted in the summary)
{ node packages/cli/bin/vfio-node.js lab run \
  --nvme size=256M,serial=LABSERIAL \
  --nvme size=64M,lba=4096,namespaces=2,serial=VFIONODE1 \
  --nics 2 --hugepages 256 --out "$results/lab" --timeout 2400 \
  -- sh -c "$vitest run --project lab --reporter=default --reporter=json --outputFile.json=\$VFIO_LAB_OUT/lab.json" \
  2>&1 1>&3 | tee "$results/lab.stderr" >&2; } 3>&1 || { rc=$?; lab_reason lab "$results/lab.stderr" $rc; status=1; }
stages+=(--stage lab "$results/lab.list.json" "$results/lab/lab.json" "$results/lab.reason")

# Scenarios that need a lab of their own: the first line of each file is `// lab: ARGS`
# (a --timeout there replaces the default 900 s: the last one given wins).
for f in test/lab-scenarios/*.test.ts; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .test.ts)
  args=$(head -n1 "$f" | sed -n 's|^// lab: ||p')
  if [ -z "$args" ]; then echo "$f: the first line must be '// lab: ARGS'"; status=1; continue; fi
  step "lab scenario $name ($args)"
  list "$name" --project scenario "$f"
  # shellcheck disable=SC2086
  { node packages/cli/bin/vfio-node.js lab run --timeout 900 $args --out "$results/$name" \
    -- sh -c "$vitest run --project scenario $f --reporter=default --reporter=json --outputFile.json=\$VFIO_LAB_OUT/report.json" \
    2>&1 1>&3 | tee "$results/$name.stderr" >&2; } 3>&1 || { rc=$?; lab_reason "$name" "$results/$name.stderr" $rc; status=1; }
  stages+=(--stage "$name" "$results/$name.list.json" "$results/$name/report.json" "$results/$name.reason")
done

step "end-to-end tests (host side, each boots its own lab)"
list e2e --project e2e
$vitest run --project e2e --reporter=default --reporter=json --outputFile.json="$results/e2e.json" || { echo "vitest exited $?" >"$results/e2e.reason"; status=1; }
stages+=(--stage e2e "$results/e2e.list.json" "$results/e2e.json" "$results/e2e.reason")

step "summary"
node scripts/summarize-tests.mjs "${stages[@]}" || status=1
exit $status
