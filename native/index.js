// Loads the addon with node-gyp-build: build/Release/vfio_node.node when it was compiled
// here (the repository, or an install that built from source), else the prebuilt binary
// in prebuilds/<platform>-<arch>/ that the published package ships.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** What to do about a missing addon: in a clone of the repository, build it; installed, reinstall with build tools. */
function notBuiltHint() {
  if (existsSync(join(here, '..', 'pnpm-workspace.yaml')) && existsSync(join(here, 'binding.gyp'))) {
    return 'In the repository: run `bash scripts/bootstrap.sh` (or `pnpm --filter @vfio-node/native run build`) from its root.';
  }
  return (
    `No prebuilt binary loads on ${process.platform}-${process.arch} and none was compiled when the package was installed. ` +
    'Compile it with the build tools present (a C++17 compiler, make, python3; Debian: apt-get install build-essential python3): ' +
    '`npm rebuild @vfio-node/native`. A package manager that blocks install scripts must allow this one first ' +
    '(`npm install-scripts approve @vfio-node/native`, `pnpm approve-builds`).'
  );
}

let binding;
try {
  binding = require('node-gyp-build')(here);
} catch (cause) {
  const hint = notBuiltHint();
  const err = new Error(`vfio-node: the native addon is not built (${String(cause?.message ?? cause).trim().replace(/\s*\n\s*/g, '; ')}). ${hint}`);
  err.code = 'ERR_NATIVE_NOT_BUILT';
  err.hint = hint;
  err.cause = cause;
  throw err;
}
export default binding;
// Named exports, one per entry of index.d.ts.
export const {
  setErrorFactory,
  open,
  close,
  pread,
  pwrite,
  preadWidth,
  pwriteWidth,
  vfioGetApiVersion,
  vfioCheckExtension,
  vfioSetIommu,
  vfioIommuGetInfo,
  vfioMapDma,
  vfioUnmapDma,
  vfioMapUserDma,
  pageOffsetOf,
  allocUserMemory,
  vfioGroupGetStatus,
  vfioGroupSetContainer,
  vfioGroupUnsetContainer,
  vfioGroupGetDeviceFd,
  vfioDeviceGetInfo,
  vfioDeviceGetRegionInfo,
  vfioDeviceGetIrqInfo,
  vfioDeviceSetIrqsEventfd,
  vfioDeviceSetIrqs,
  vfioDeviceReset,
  Mapping,
  DmaBuffer,
  eventfdCreate,
  eventfdRead,
  eventfdWrite,
  eventfdWait,
  EventfdWatcher,
  constants,
  pageSize,
  // NVMe hot path (nvme_queue.cc)
  NvmeQueue,
  // virtio-net transmit hot path (virtio_ring.cc)
  virtioSplitTxBurst,
} = binding;
