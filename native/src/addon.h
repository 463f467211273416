// Shared declarations of the vfio-node native core: the per-environment state and the
// Init function of each concept's file (errors, args, fd, vfio, mapping, dma, eventfd).
#pragma once

#include <napi.h>

namespace vfio_node {

// Per-environment state (the main thread and every worker get their own), kept as N-API
// instance data so that the addon is context-aware: no napi_env or JS value is static.
// The only process-wide state is the DMA buffer table in dma.cc and the table of guarded
// BAR mappings with its SIGBUS handler in sigbus.cc.
struct AddonData {
  Napi::FunctionReference errorFactory;   // set by setErrorFactory(); empty before
  Napi::FunctionReference dmaBufferCtor;  // DmaBuffer, to build handles in alloc()/open()
};

AddonData* GetAddonData(Napi::Env env);

void InitErrors(Napi::Env env, Napi::Object exports);
void InitFd(Napi::Env env, Napi::Object exports);
void InitVfio(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitDma(Napi::Env env, Napi::Object exports);
void InitUserDma(Napi::Env env, Napi::Object exports);
void InitEventfd(Napi::Env env, Napi::Object exports);

}  // namespace vfio_node
