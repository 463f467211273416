// Loads the compiled addon (build/Release/vfio_node.node) with node-gyp-build.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
let binding;
try {
  binding = require('node-gyp-build')(here);
} catch (cause) {
  const err = new Error(
    `vfio-node: the native addon is not built (${cause && cause.message}). ` +
      'Run `npm test` or `pnpm --filter @vfio-node/native run build` from the repository root.',
  );
  err.code = 'ERR_NATIVE_NOT_BUILT';
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
  nvmeCqPoll,
  nvmeSqRing,
  NvmeQueue,
  // virtio-net transmit hot path (virtio_ring.cc)
  virtioSplitTxBurst,
} = binding;
