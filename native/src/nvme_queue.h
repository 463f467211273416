// The NVMe queue hot path: completion reaping by phase tag and doorbell writes, one
// N-API call per batch. See nvme_queue.cc.
#pragma once

#include <napi.h>

namespace vfio_node {

void InitNvmeQueue(Napi::Env env, Napi::Object exports);

}  // namespace vfio_node
