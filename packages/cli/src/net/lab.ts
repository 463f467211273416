// `vfio-node net pktgen|count|fwd` with no PCI address: the embedded default, as for
// `vfio-node bench`. The app runs inside the lab on its two virtio-net NICs, which QEMU's
// hub joins, and the other NIC plays the partner the app needs: a `count` that drains
// what pktgen sends (QEMU's hub stops a sender whose peer does not drain), a `pktgen`
// that feeds count, and for fwd both NICs with frames sent first. --output is written to
// $VFIO_LAB_OUT in the guest and copied to where the user asked.

/** The apps that run in the lab when no address is given. */
export const LAB_APPS = ['pktgen', 'count', 'fwd'] as const;

/** Seconds an app runs in the lab when nothing else ends it (the lab has no Ctrl-C). */
export const LAB_DEFAULT_SECONDS = 10;

/** Frames fwd sends on each port first in the lab (nothing else feeds it there). */
export const LAB_TX_FIRST = 32;

/** Where the guest writes --output (a path under $VFIO_LAB_OUT). */
export const LAB_OUTPUT_NAME = 'net-output';

/** What runs in the guest, and what the user is told first. */
export interface NetLabPlan {
  /** The sh script run inside the lab (vfio-node on the PATH, $VFIO_LAB_NICS set). */
  script: string;
  /** Lines for stderr before the boot: what was chosen for the user. */
  notices: string[];
}

/** Quotes one word for sh. */
function q(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script for `net SUB ARGS` in the lab. args are the user's options (no addresses),
 * with --output already taken out (withOutput: the app writes $VFIO_LAB_OUT/net-output).
 * has(name) says whether the user gave option --name.
 */
export function planNetInLab(sub: (typeof LAB_APPS)[number], args: readonly string[], has: (name: string) => boolean, withOutput: boolean): NetLabPlan {
  const notices: string[] = [`vfio-node net ${sub}: no PCI address given: running on the lab's two virtio-net NICs (vfio-node lab run)`];
  const extra: string[] = [];
  const ends = sub === 'pktgen' ? has('duration') || has('count') : sub === 'count' ? has('duration') || has('count') || has('idle') : has('duration');
  if (!ends) {
    extra.push('--duration', String(LAB_DEFAULT_SECONDS));
    notices.push(`vfio-node net ${sub}: no --duration: ${LAB_DEFAULT_SECONDS} s in the lab`);
  }
  if (sub === 'fwd' && !has('tx-first')) {
    extra.push('--tx-first', String(LAB_TX_FIRST));
    notices.push(`vfio-node net fwd: no --tx-first: ${LAB_TX_FIRST} frames sent on each port first (nothing else feeds the lab's ports)`);
  }
  const own = [...args, ...extra].map(q).join(' ');
  const out = withOutput ? ` "--output=$VFIO_LAB_OUT/${LAB_OUTPUT_NAME}"` : '';
  const lines = ['set -u', 'set -- $VFIO_LAB_NICS', 'NIC0=$1 NIC1=$2'];
  // The partner runs in the background, its output to files, and the app starts once the
  // partner is up: count says "ready" on stderr when it listens; pktgen prints its first
  // per-second line when it sends. SIGTERM stops it at the end (a background job of a
  // script ignores SIGINT).
  const startPartner = (app: string, nic: string, up: string) => [
    `vfio-node net ${app} "${nic}" --json > "$VFIO_LAB_OUT/partner.out" 2> "$VFIO_LAB_OUT/partner.err" &`,
    'PARTNER=$!',
    `for _ in $(seq 1 600); do ${up} && break; kill -0 "$PARTNER" 2>/dev/null || break; sleep 0.2; done`,
    `${up} || { echo "vfio-node net: the partner app (${app}) did not start:" >&2; cat "$VFIO_LAB_OUT/partner.err" >&2; exit 1; }`,
  ];
  const stopPartner = ['STATUS=$?', 'kill -TERM "$PARTNER" 2>/dev/null; wait "$PARTNER"', 'exit $STATUS'];
  if (sub === 'pktgen') {
    lines.push(...startPartner('count', '$NIC1', 'grep -q ready "$VFIO_LAB_OUT/partner.err" 2>/dev/null'), `vfio-node net pktgen "$NIC0" ${own}${out}`, ...stopPartner);
  } else if (sub === 'count') {
    lines.push(...startPartner('pktgen', '$NIC0', '[ -s "$VFIO_LAB_OUT/partner.out" ]'), `vfio-node net count "$NIC1" ${own}${out}`, ...stopPartner);
  } else {
    lines.push(`exec vfio-node net fwd "$NIC0" "$NIC1" ${own}${out}`);
  }
  return { script: lines.join('\n'), notices };
}
