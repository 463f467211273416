// DMA memory: anonymous, page-aligned, zeroed and populated memory that a device may
// read and write once VFIO_IOMMU_MAP_DMA has mapped it at an IOVA. Hugepages (2 MiB,
// MAP_HUGETLB) by default: fewer IOMMU entries and TLB misses, and physically contiguous
// chunks. MADV_DONTFORK keeps a fork()ed child from taking the pages copy-on-write
// away from the device. Buffers are registered in a process-wide table so that a
// worker thread can open the same memory by id (ArrayBuffers over external memory
// cannot be transferred between threads). A handle also hands out slices: an
// ArrayBuffer of their own over a sub-range, which the owner of that range detaches when
// it gives the range back, so no view of it reaches the next owner's bytes.
#include <errno.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "dma.h"
#include "receiver.h"
#include "shared_memory.h"
#include "vfio_ioctl.h"

namespace vfio_node {
namespace {

constexpr size_t kHugepageSize = size_t{2} << 20;
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

// ---- the process-wide table (the only state shared between environments) ----

struct DmaEntry {
  void* addr;
  size_t size;
  bool hugepages;
  uint64_t refs;  // open handles
};

struct DmaTable {
  std::mutex mutex;
  std::unordered_map<uint64_t, DmaEntry> entries;
  uint64_t nextId = 1;
};

// Never destroyed: a worker may still release a buffer while the process exits.
DmaTable& Table() {
  static DmaTable* table = new DmaTable;
  return *table;
}

uint64_t TableAdd(void* addr, size_t size, bool hugepages) {
  DmaTable& t = Table();
  std::lock_guard<std::mutex> lock(t.mutex);
  uint64_t id = t.nextId++;
  t.entries.emplace(id, DmaEntry{addr, size, hugepages, 1});
  return id;
}

bool TableAcquire(uint64_t id, DmaEntry* out) {
  DmaTable& t = Table();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.entries.find(id);
  if (it == t.entries.end()) return false;
  it->second.refs++;
  *out = it->second;
  return true;
}

// Drops one reference; the last one frees the memory and keeps its addresses (RetireRange).
void TableRelease(uint64_t id) {
  DmaTable& t = Table();
  DmaEntry entry{};
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    auto it = t.entries.find(id);
    if (it == t.entries.end() || --it->second.refs > 0) return;
    entry = it->second;
    t.entries.erase(it);
  }
  RetireRange(entry.addr, entry.size);
}

// A table reference on its way into a new DmaBuffer (passed to the constructor as an External).
struct PendingHandle {
  uint64_t id;
  DmaEntry entry;
  bool adopted = false;
};

// ---- slices: an ArrayBuffer of its own over a sub-range of a buffer ----

// What a handle's slices report when V8 lets go of their memory. A slice can outlive
// napi_detach_arraybuffer (ArrayBuffer.prototype.transfer moves its memory into a new
// ArrayBuffer first), and only its finalizer says that no JavaScript can reach the range
// any more: the owner of the range (core's DmaAllocator) keeps it out of use until then.
// Shared with the slices, which may outlive their handle.
struct SliceLedger {
  std::mutex mutex;         // finalizers run on the JS thread in Node 20; the lock costs nothing and assumes less
  std::vector<double> finalized;  // offsets of slices finalized since the last finalizedSlices()
  uint64_t live = 0;              // slices made and not yet finalized
};

// The finalize hint of one slice's ArrayBuffer. The slice holds its own reference on the
// table entry, so the memory stays mapped (never retired to PROT_NONE under a live view)
// while the slice lives, even after every handle was released.
struct Slice {
  uint64_t id;
  double offset;
  std::shared_ptr<SliceLedger> ledger;
};

void OnSliceFinalized(napi_env, void*, void* hint) {
  std::unique_ptr<Slice> slice(static_cast<Slice*>(hint));
  {
    std::lock_guard<std::mutex> lock(slice->ledger->mutex);
    slice->ledger->finalized.push_back(slice->offset);
    slice->ledger->live--;
  }
  TableRelease(slice->id);
}

// MemAvailable from /proc/meminfo in bytes, or -1 when it cannot be read.
int64_t MemAvailable() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

// ---- DmaBuffer: one handle on a table entry ----

class DmaBuffer : public Napi::ObjectWrap<DmaBuffer> {
 public:
  // The tag also lets vfioMapDma tell a DmaBuffer argument from any other wrapped object.
  static constexpr napi_type_tag kTypeTag = {0x7d1c0a3e5b2f4e61ULL, 0x9a84c2d7f03b6e15ULL};
  static constexpr const char* kClassName = "DmaBuffer";
  static DmaBuffer* Unwrap(Napi::Object self) { return UnwrapReceiver<DmaBuffer>(self); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DmaBuffer",
                       {
                           StaticMethod<&DmaBuffer::Alloc>("alloc"),
                           StaticMethod<&DmaBuffer::Open>("open"),
                           InstanceAccessor<&DmaBuffer::Id>("id"),
                           InstanceAccessor<&DmaBuffer::Size>("size"),
                           InstanceAccessor<&DmaBuffer::Hugepages>("hugepages"),
                           InstanceAccessor<&DmaBuffer::Buffer>("buffer"),
                           InstanceMethod<&DmaBuffer::Release>("release"),
                           InstanceMethod<&DmaBuffer::SliceOf>("slice"),
                           InstanceMethod<&DmaBuffer::DetachSlice>("detachSlice"),
                           InstanceMethod<&DmaBuffer::FinalizedSlices>("finalizedSlices"),
                           InstanceAccessor<&DmaBuffer::LiveSlices>("liveSlices"),
                       });
  }

  // Only alloc() and open() construct handles: they pass a PendingHandle.
  explicit DmaBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DmaBuffer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsExternal()) {
      ThrowArg(env, kErrInvalidArg, "DmaBuffer has no public constructor: use DmaBuffer.alloc() or DmaBuffer.open()");
    }
    PendingHandle* p = info[0].As<Napi::External<PendingHandle>>().Data();
    TagReceiver<DmaBuffer>(env, info.This().As<Napi::Object>());
    id_ = p->id;
    size_ = p->entry.size;
    hugepages_ = p->entry.hugepages;
    base_ = static_cast<uint8_t*>(p->entry.addr);
    uint64_t id = p->id;
    mem_ = new SharedMemory(p->entry.addr, p->entry.size, [id] { TableRelease(id); });
    p->adopted = true;  // the table reference now belongs to mem_
    try {
      buffer_ = Napi::Persistent(mem_->NewArrayBuffer(env));
    } catch (...) {  // a throwing constructor never reaches ~DmaBuffer
      mem_->Drop();
      mem_ = nullptr;
      throw;
    }
  }

  // Run by the GC (or at environment teardown): the handle's reference goes once its
  // ArrayBuffer is unreachable too.
  ~DmaBuffer() override {
    if (mem_) mem_->Drop();
  }

  // The live memory of a DmaBuffer argument, for vfioMapDma.
  static DmaBuffer* FromValue(Napi::Env env, Napi::Value v) {
    if (!HasTypeTag(env, v, kTypeTag)) ThrowArg(env, kErrInvalidArg, "buffer must be a DmaBuffer (got " + Describe(v) + ")");
    DmaBuffer* buffer = Napi::ObjectWrap<DmaBuffer>::Unwrap(v.As<Napi::Object>());
    if (!buffer->mem_) ThrowArg(env, kErrClosed, "DMA buffer " + std::to_string(buffer->id_) + " was released");
    return buffer;
  }
  uint8_t* addr() const { return static_cast<uint8_t*>(mem_->addr()); }
  size_t size() const { return size_; }

 private:
  // DmaBuffer.alloc(size, { hugepages = true }).
  static Napi::Value Alloc(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    // No more than the machine's RAM: memset below would otherwise summon the OOM killer.
    const int64_t ram = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(page);
    int64_t requested = ToInt(env, Arg(info, 0), "size", 1, ram < kMaxSafeInteger ? ram : kMaxSafeInteger);
    bool hugepages = true;
    Napi::Value options = Arg(info, 1);
    if (!options.IsUndefined()) {
      if (!options.IsObject()) ThrowArg(env, kErrInvalidArg, "options must be an object (got " + Describe(options) + ")");
      Napi::Value h = options.As<Napi::Object>().Get("hugepages");
      if (!h.IsUndefined() && !h.IsBoolean()) {
        ThrowArg(env, kErrInvalidArg, "options.hugepages must be a boolean (got " + Describe(h) + ")");
      }
      if (h.IsBoolean()) hugepages = h.As<Napi::Boolean>().Value();
    }
    const size_t unit = hugepages ? kHugepageSize : page;
    const size_t size = (static_cast<size_t>(requested) + unit - 1) / unit * unit;
    // Small pages come from the page allocator as memset touches them: more than the kernel
    // says is available would push the machine into swap or the OOM killer. (MAP_HUGETLB
    // needs no such check: mmap reserves the hugepages up front and fails with ENOMEM.)
    if (!hugepages) {
      const int64_t available = MemAvailable();
      if (available >= 0 && static_cast<int64_t>(size) > available) {
        ThrowArg(env, kErrOutOfRange,
                 "DMA memory of " + std::to_string(size) + " bytes in 4 KiB pages is more than the " +
                     std::to_string(available) + " bytes the kernel has available (MemAvailable in /proc/meminfo)");
      }
    }

    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (hugepages ? MAP_HUGETLB | MAP_HUGE_2MB : 0);
    void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      std::string what = "mmap of " + std::to_string(size) + " bytes of DMA memory" + (hugepages ? " with MAP_HUGETLB" : "");
      if (hugepages && err == ENOMEM) {
        ThrowSyscallMessage(env, "mmap", err,
                            what + " failed: no free 2 MiB hugepages (" + std::to_string(size / kHugepageSize) +
                                " needed; see /proc/sys/vm/nr_hugepages)");
      }
      ThrowSyscall(env, "mmap", err, what);
    }
    if (madvise(addr, size, MADV_DONTFORK) != 0) {
      int err = errno;
      munmap(addr, size);
      ThrowSyscall(env, "madvise", err, "madvise(MADV_DONTFORK) of DMA memory");
    }
    memset(addr, 0, size);  // touches every page, so all are populated before a device sees them
    uint64_t id = TableAdd(addr, size, hugepages);
    return NewHandle(env, PendingHandle{id, DmaEntry{addr, size, hugepages, 1}});
  }

  // DmaBuffer.open(id): a new handle (and ArrayBuffer) on memory allocated by any thread.
  static Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t id = static_cast<uint64_t>(ToInt(env, Arg(info, 0), "id", 1, kMaxSafeInteger));
    DmaEntry entry{};
    if (!TableAcquire(id, &entry)) {
      ThrowArg(env, kErrInvalidArg, "no DMA buffer has id " + std::to_string(id) + " (released, or never allocated)");
    }
    return NewHandle(env, PendingHandle{id, entry});
  }

  // Wraps one table reference in a new DmaBuffer; drops it if construction fails.
  static Napi::Value NewHandle(Napi::Env env, PendingHandle pending) {
    try {
      return GetAddonData(env)->dmaBufferCtor.New({Napi::External<PendingHandle>::New(env, &pending)});
    } catch (...) {
      if (!pending.adopted) TableRelease(pending.id);
      throw;
    }
  }

  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(id_)); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(size_)); }
  Napi::Value Hugepages(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), hugepages_); }
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    return buffer_.IsEmpty() ? info.Env().Undefined() : buffer_.Value();
  }

  // slice(offset, length): a new external ArrayBuffer over [offset, offset + length) of
  // the memory, no copy. It holds its own table reference (the memory outlives this
  // handle while the slice lives) and reports its finalization through finalizedSlices().
  Napi::Value SliceOf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!mem_) ThrowArg(env, kErrClosed, "DMA buffer " + std::to_string(id_) + " was released");
    const int64_t max = static_cast<int64_t>(size_);
    const int64_t offset = ToInt(env, Arg(info, 0), "offset", 0, max - 1);
    const int64_t length = ToInt(env, Arg(info, 1), "length", 1, max);
    if (length > max - offset) {
      ThrowArg(env, kErrOutOfRange,
               "slice [" + std::to_string(offset) + ", " + std::to_string(offset + length) + ") is outside the DMA buffer of " +
                   std::to_string(size_) + " bytes");
    }
    DmaEntry entry{};
    if (!TableAcquire(id_, &entry)) ThrowArg(env, kErrClosed, "DMA buffer " + std::to_string(id_) + " was released");
    if (!ledger_) ledger_ = std::make_shared<SliceLedger>();
    auto slice = std::make_unique<Slice>(Slice{id_, static_cast<double>(offset), ledger_});
    napi_value ab;
    napi_status status = napi_create_external_arraybuffer(env, base_ + offset, static_cast<size_t>(length), OnSliceFinalized,
                                                          slice.get(), &ab);
    if (status != napi_ok) {
      TableRelease(id_);
      NAPI_THROW_IF_FAILED(env, status, Napi::Value());
    }
    slice.release();  // the finalizer owns it now
    {
      std::lock_guard<std::mutex> lock(ledger_->mutex);
      ledger_->live++;
    }
    return Napi::Value(env, ab);
  }

  // detachSlice(slice): napi_detach_arraybuffer of a slice of this buffer, so that every
  // view on it has length 0. A slice already detached (or transferred away) is left alone.
  // Works after release(): a slice may outlive its handle.
  void DetachSlice(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Value v = Arg(info, 0);
    if (!v.IsArrayBuffer()) ThrowArg(env, kErrInvalidArg, "slice must be an ArrayBuffer (got " + Describe(v) + ")");
    bool detached = false;
    NAPI_THROW_IF_FAILED_VOID(env, napi_is_detached_arraybuffer(env, v, &detached));
    if (detached) return;
    void* data = nullptr;
    size_t length = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_arraybuffer_info(env, v, &data, &length));
    uint8_t* start = static_cast<uint8_t*>(data);
    if (start < base_ || start > base_ + size_ || length > static_cast<size_t>(base_ + size_ - start)) {
      ThrowArg(env, kErrInvalidArg, "the ArrayBuffer is not a slice of DMA buffer " + std::to_string(id_));
    }
    NAPI_THROW_IF_FAILED_VOID(env, napi_detach_arraybuffer(env, v));
  }

  // finalizedSlices(): the offsets of this handle's slices whose memory V8 has let go since
  // the last call (their ArrayBuffer and any it was transferred into are gone).
  Napi::Value FinalizedSlices(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<double> offsets;
    if (ledger_) {
      std::lock_guard<std::mutex> lock(ledger_->mutex);
      offsets.swap(ledger_->finalized);
    }
    Napi::Array out = Napi::Array::New(env, offsets.size());
    for (size_t i = 0; i < offsets.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, offsets[i]));
    return out;
  }

  // liveSlices: slices made by this handle and not yet finalized.
  Napi::Value LiveSlices(const Napi::CallbackInfo& info) {
    uint64_t live = 0;
    if (ledger_) {
      std::lock_guard<std::mutex> lock(ledger_->mutex);
      live = ledger_->live;
    }
    return Napi::Number::New(info.Env(), static_cast<double>(live));
  }

  // release(): detach this handle's ArrayBuffer, then drop its table reference (the
  // memory is unmapped when no handle in any thread is left). Idempotent.
  void Release(const Napi::CallbackInfo& info) {
    if (!mem_) return;
    Napi::Env env = info.Env();
    NAPI_THROW_IF_FAILED_VOID(env, napi_detach_arraybuffer(env, buffer_.Value()));
    mem_->FreeNow();
    mem_->Drop();
    mem_ = nullptr;
  }

  uint64_t id_ = 0;
  size_t size_ = 0;
  bool hugepages_ = false;
  uint8_t* base_ = nullptr;  // the memory's address; its pages stay mapped while a slice lives
  SharedMemory* mem_ = nullptr;
  std::shared_ptr<SliceLedger> ledger_;  // made by the first slice()
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

// Page alignment and bounds shared by map and unmap.
void CheckPageAligned(Napi::Env env, const char* name, uint64_t v) {
  if (v % static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) != 0) {
    ThrowArg(env, kErrMisaligned, std::string(name) + " " + std::to_string(v) + " is not a multiple of the page size");
  }
}

// vfioMapDma(containerFd, buffer, offset, size, iova): VFIO_IOMMU_MAP_DMA of
// [offset, offset+size) of the buffer at iova, readable and writable by the device.
// The kernel pins the pages until VFIO_IOMMU_UNMAP_DMA.
void MapDma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  DmaBuffer* buffer = DmaBuffer::FromValue(env, Arg(info, 1));
  uint64_t offset = static_cast<uint64_t>(ToInt(env, Arg(info, 2), "offset", 0, kMaxSafeInteger));
  uint64_t size = static_cast<uint64_t>(ToInt(env, Arg(info, 3), "size", 1, kMaxSafeInteger));
  uint64_t iova = ToU64(env, Arg(info, 4), "iova");
  if (offset > buffer->size() || size > buffer->size() - offset) {
    ThrowArg(env, kErrOutOfRange,
             "[" + std::to_string(offset) + ", " + std::to_string(offset + size) + ") is outside the DMA buffer of " +
                 std::to_string(buffer->size()) + " bytes");
  }
  if (iova > UINT64_MAX - (size - 1)) ThrowArg(env, kErrOutOfRange, "iova + size overflows 64 bits");
  CheckPageAligned(env, "offset", offset);
  CheckPageAligned(env, "size", size);
  CheckPageAligned(env, "iova", iova);
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof map;
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = reinterpret_cast<uint64_t>(buffer->addr() + offset);
  map.iova = iova;
  map.size = size;
  VFIO_IOCTL(env, fd, VFIO_IOMMU_MAP_DMA, &map);
}

// vfioUnmapDma(containerFd, iova, size): VFIO_IOMMU_UNMAP_DMA; returns the size the
// kernel unmapped (it unmaps whole mappings only).
Napi::Value UnmapDma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  uint64_t iova = ToU64(env, Arg(info, 1), "iova");
  uint64_t size = static_cast<uint64_t>(ToInt(env, Arg(info, 2), "size", 1, kMaxSafeInteger));
  if (iova > UINT64_MAX - (size - 1)) ThrowArg(env, kErrOutOfRange, "iova + size overflows 64 bits");
  CheckPageAligned(env, "iova", iova);
  CheckPageAligned(env, "size", size);
  vfio_iommu_type1_dma_unmap unmap{};
  unmap.argsz = sizeof unmap;
  unmap.iova = iova;
  unmap.size = size;
  VFIO_IOCTL(env, fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
  return Napi::Number::New(env, static_cast<double>(unmap.size));
}

}  // namespace

bool DmaPin(uint64_t id, void** addr, size_t* size) {
  DmaEntry entry{};
  if (!TableAcquire(id, &entry)) return false;
  *addr = entry.addr;
  *size = entry.size;
  return true;
}

void DmaUnpin(uint64_t id) { TableRelease(id); }

void InitDma(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DmaBuffer::Define(env);
  GetAddonData(env)->dmaBufferCtor = Napi::Persistent(ctor);
  exports.Set("DmaBuffer", ctor);
  exports.Set("vfioMapDma", Napi::Function::New<MapDma>(env, "vfioMapDma"));
  exports.Set("vfioUnmapDma", Napi::Function::New<UnmapDma>(env, "vfioUnmapDma"));
}

}  // namespace vfio_node
