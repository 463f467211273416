// Native memory shown to JavaScript as an external ArrayBuffer has two owners: the
// native object (Mapping, DmaBuffer) and the ArrayBuffer, whose finalizer may run after
// the object's (a view can outlive its Mapping). SharedMemory counts both owners and
// frees the memory exactly once: early, when the object is closed (right after it
// detached the ArrayBuffer, so no JavaScript can reach the memory any more), or else
// when the last owner goes. Both owners live on the thread of one environment.
#pragma once

#include <napi.h>
#include <sys/mman.h>

#include <functional>

namespace vfio_node {

// Gives back the pages of [addr, addr + size) but keeps the addresses. A PROT_NONE
// reservation replaces the mapping in place (MAP_FIXED), so a pointer still held outside
// any ArrayBuffer (a read(2) in flight on the threadpool into a view that was released)
// fails with EFAULT instead of writing into whatever the next mmap would have put at that
// address (another DMA buffer). The reservation costs address space only (MAP_NORESERVE,
// no pages; neighbours merge into one VMA) and is never handed out again, since nothing can
// tell when the last raw pointer is gone.
inline void RetireRange(void* addr, size_t size) {
  void* r = mmap(addr, size, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) munmap(addr, size);  // no reservation possible: free it at least
}

class SharedMemory {
 public:
  SharedMemory(void* addr, size_t size, std::function<void()> free)
      : addr_(addr), size_(size), free_(std::move(free)) {}
  void* addr() const { return addr_; }
  size_t size() const { return size_; }

  // A new external ArrayBuffer over the memory; it becomes the second owner.
  Napi::ArrayBuffer NewArrayBuffer(Napi::Env env) {
    napi_value ab;
    napi_status status = napi_create_external_arraybuffer(env, addr_, size_, OnArrayBufferFreed, this, &ab);
    NAPI_THROW_IF_FAILED(env, status, Napi::ArrayBuffer());
    owners_++;
    return Napi::ArrayBuffer(env, ab);
  }
  // Frees the memory now (the caller has detached the ArrayBuffer).
  void FreeNow() {
    if (free_) {
      auto free = std::move(free_);
      free_ = nullptr;
      free();
    }
  }
  // One owner is done; the last one frees the memory (if not yet) and this object.
  void Drop() {
    if (--owners_ == 0) {
      FreeNow();
      delete this;
    }
  }

 private:
  static void OnArrayBufferFreed(napi_env, void*, void* self) { static_cast<SharedMemory*>(self)->Drop(); }

  void* addr_;
  size_t size_;
  std::function<void()> free_;
  int owners_ = 1;  // the native object
};

}  // namespace vfio_node
