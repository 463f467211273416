// The virtio-net transmit hot loop on a split virtqueue, one N-API call per batch. See virtio_ring.cc.
#pragma once

#include <napi.h>

namespace vfio_node {

void InitVirtioRing(Napi::Env env, Napi::Object exports);

}  // namespace vfio_node
