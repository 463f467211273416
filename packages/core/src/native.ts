// The one place core touches the native addon. It registers VfioError as the class the
// native side throws, so that a failed ioctl and a failed TypeScript check look alike.
import * as native from '@vfio-node/native';
import type { NativeErrorInit } from '@vfio-node/native';
import { VfioError } from './errors.js';
import { hintFor } from './hints.js';

native.setErrorFactory((init: NativeErrorInit) => new VfioError({ ...init, hint: hintFor(init) }));

export { native };
export type { DmaBuffer, Mapping, RegionInfo, IrqInfo, IommuInfo, DeviceInfo, IovaRange } from '@vfio-node/native';
