// Caller memory for DMA, as SPDK's spdk_mem_register does it: memory the program already
// owns (an ArrayBuffer, a Buffer, a SharedArrayBuffer) is pinned and mapped into the
// container's IOMMU space with VFIO_IOMMU_MAP_DMA, so that a device reads and writes it
// in place, without a copy through a DMA buffer of ours.
//
// VFIO maps whole pages only (vaddr, iova and size page aligned): the range given must
// start and end on page boundaries, so that the rest of a page that holds other heap
// objects is never exposed to the device. pageOffsetOf() tells JavaScript where the next
// page boundary of a view lies (to cut a page-aligned subarray out of a larger buffer),
// and allocUserMemory() gives the caller an ArrayBuffer over page-aligned anonymous
// memory of its own.
//
// The caller's ArrayBuffer must outlive the mapping: the TypeScript layer (core's
// DmaAllocator.register) holds it until VFIO_IOMMU_UNMAP_DMA. Unmapping goes through
// vfioUnmapDma (dma.cc), which takes only the IOVA and size.
#include <errno.h>
#include <linux/vfio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "vfio_ioctl.h"

namespace vfio_node {
namespace {

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:  // float64, bigint64, biguint64
      return 8;
  }
}

// The bytes a TypedArray or DataView covers: address and length in bytes. Throws for any
// other value and for a view whose ArrayBuffer was detached (its length reads 0 then).
void ViewBytes(Napi::Env env, Napi::Value v, const char* name, uint8_t** data, size_t* bytes) {
  bool isTyped = false;
  bool isDataView = false;
  NAPI_THROW_IF_FAILED_VOID(env, napi_is_typedarray(env, v, &isTyped));
  if (!isTyped) NAPI_THROW_IF_FAILED_VOID(env, napi_is_dataview(env, v, &isDataView));
  void* p = nullptr;
  size_t length = 0;
  if (isTyped) {
    napi_typedarray_type type;
    napi_value ab;
    size_t offset = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset));
    length *= ElementSize(type);
  } else if (isDataView) {
    napi_value ab;
    size_t offset = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_dataview_info(env, v, &length, &p, &ab, &offset));
  } else {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a TypedArray or DataView (got " + Describe(v) + ")");
  }
  if (length == 0 || p == nullptr) {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " is empty (a zero-length view, or its ArrayBuffer was detached)");
  }
  *data = static_cast<uint8_t*>(p);
  *bytes = length;
}

// vfioMapUserDma(containerFd, view, iova): VFIO_IOMMU_MAP_DMA of exactly the bytes of
// view at iova, readable and writable by the device. The view must start and end on a
// page boundary, and iova must be page aligned. The kernel pins the pages (charged to
// RLIMIT_MEMLOCK) until VFIO_IOMMU_UNMAP_DMA.
void MapUserDma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  uint8_t* data = nullptr;
  size_t size = 0;
  ViewBytes(env, Arg(info, 1), "view", &data, &size);
  uint64_t iova = ToU64(env, Arg(info, 2), "iova");
  const uint64_t page = PageSize();
  const uint64_t addr = reinterpret_cast<uint64_t>(data);
  if (addr % page != 0) {
    ThrowArg(env, kErrMisaligned,
             "the view starts " + std::to_string(addr % page) + " bytes past a page boundary; VFIO maps whole pages only");
  }
  if (size % page != 0) {
    ThrowArg(env, kErrMisaligned,
             "the view's length " + std::to_string(size) + " is not a multiple of the page size " + std::to_string(page));
  }
  if (iova % page != 0) ThrowArg(env, kErrMisaligned, "iova " + std::to_string(iova) + " is not a multiple of the page size");
  if (iova > UINT64_MAX - (size - 1)) ThrowArg(env, kErrOutOfRange, "iova + size overflows 64 bits");
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof map;
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = addr;
  map.iova = iova;
  map.size = size;
  VFIO_IOCTL(env, fd, VFIO_IOMMU_MAP_DMA, &map);
}

// pageOffsetOf(view): how many bytes the view's first byte lies past a page boundary
// (0: it starts on one). Only the low bits of the address, nothing a device could use.
Napi::Value PageOffsetOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data = nullptr;
  size_t size = 0;
  ViewBytes(env, Arg(info, 0), "view", &data, &size);
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uint64_t>(data) % PageSize()));
}

struct UserMemory {
  void* addr;
  size_t size;
};

void OnUserMemoryFinalized(napi_env, void*, void* hint) {
  UserMemory* m = static_cast<UserMemory*>(hint);
  // Still mapped for a device (a registration the program never released)? The kernel
  // keeps the pinned pages until VFIO_IOMMU_UNMAP_DMA, so a late device write lands in
  // them, never in memory the process reuses.
  munmap(m->addr, m->size);
  delete m;
}

// allocUserMemory(size): an ArrayBuffer over `size` bytes (rounded up to whole pages) of
// zeroed, page-aligned anonymous memory that the caller owns; freed when V8 collects it.
// MADV_DONTFORK: a fork()ed child does not share the pages a device may be writing.
Napi::Value AllocUserMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t page = PageSize();
  const int64_t ram = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(page);
  const int64_t requested = ToInt(env, Arg(info, 0), "size", 1, ram < kMaxSafeInteger ? ram : kMaxSafeInteger);
  const size_t size = (static_cast<size_t>(requested) + page - 1) / page * page;
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) ThrowSyscall(env, "mmap", errno, "mmap of " + std::to_string(size) + " bytes of caller memory");
  if (madvise(addr, size, MADV_DONTFORK) != 0) {
    int err = errno;
    munmap(addr, size);
    ThrowSyscall(env, "madvise", err, "madvise(MADV_DONTFORK) of caller memory");
  }
  UserMemory* m = new UserMemory{addr, size};
  napi_value ab;
  napi_status status = napi_create_external_arraybuffer(env, addr, size, OnUserMemoryFinalized, m, &ab);
  if (status != napi_ok) {
    munmap(addr, size);
    delete m;
    NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  }
  return Napi::Value(env, ab);
}

}  // namespace

void InitUserDma(Napi::Env env, Napi::Object exports) {
  exports.Set("vfioMapUserDma", Napi::Function::New<MapUserDma>(env, "vfioMapUserDma"));
  exports.Set("pageOffsetOf", Napi::Function::New<PageOffsetOf>(env, "pageOffsetOf"));
  exports.Set("allocUserMemory", Napi::Function::New<AllocUserMemory>(env, "allocUserMemory"));
}

}  // namespace vfio_node
