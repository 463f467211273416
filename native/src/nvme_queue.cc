// The NVMe completion hot loop (NVM Express Base Specification 2.0, "Completion Queue
// Entry" and §3.3.1 Memory-based Transport Queue Model). JavaScript posts submission
// queue entries itself (plain typed-array stores into DMA memory); what it cannot do
// cheaply is the per-completion loop with its ordering rules, so that lives here:
//
//   nvmeCqPoll(cq, state, bar, cqHeadDoorbell, out, max) -> count
//     cq     Uint8Array over the completion queue ring (16-byte entries, depth = length/16)
//     state  Uint32Array [head, phase], shared with JavaScript and updated here
//     bar    ArrayBuffer of the BAR0 mapping (Mapping.buffer)
//     out    Uint32Array receiving 4 words per completion:
//              [cid, status (DW3 bits 31:16 with the phase bit cleared), sqhd, dw0]
//   Reaps up to max entries whose Phase Tag equals state.phase, advances head (and
//   flips phase when head wraps), and writes CQyHDBL once for the whole batch, unless a
//   tenth argument `announce` is false: the caller then tells the controller the new
//   head later itself (a lazy CQ head doorbell, see drivers/nvme/src/queue.ts).
//
//   nvmeSqRing(bar, sqTailDoorbell, tail[, shadow, shadowIndex, eventIdxIndex]) -> rang
//     Makes the submission queue entries written so far visible, then writes SQyTDBL.
//
// Shadow doorbells (§5.8 Doorbell Buffer Config, §3.3.1.6 of 1.4 "Shadow Doorbell and
// EventIdx"): with a shadow Uint32Array (the Shadow Doorbell page and the EventIdx page
// of one DMA buffer) and the dword indices of this doorbell in each, the new value goes
// to the shadow doorbell first and the MMIO write only happens when the controller asked
// for it: when the new value passes the EventIdx it published (the virtio-style test
// Linux calls nvme_dbbuf_need_event). Both calls return whether they wrote the register.
// An emulated controller (QEMU) then reads the shadow value itself, and most doorbells
// cost a memory store instead of a trap into the device model.
//
// No allocation, no JS object beyond the arguments; every length and offset is checked
// and a bad one throws (never a wild pointer).
#include "nvme_queue.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>

#include "addon.h"
#include "args.h"
#include "dma.h"
#include "errors.h"
#include "receiver.h"

namespace vfio_node {
namespace {

constexpr size_t kCqeSize = 16;

// These run once or twice per I/O, so each argument costs one N-API call: node-addon-api's
// wrappers ask V8 for a typed array's info again for each property (callgrind counted ~90
// JSTypedArray::type() calls per I/O before). The checks are the same.

// A typed array of the given element type: its data and element count, or throw naming it.
template <typename T>
struct View {
  T* data;
  size_t length;
};

template <typename T>
View<T> TypedView(Napi::Env env, Napi::Value v, const char* name, napi_typedarray_type want, const char* typeName) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != want) {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a " + typeName + ", got " + Describe(v));
  }
  return {static_cast<T*>(data), length};
}

// An integer argument in [min, max] with one N-API call (ToInt's checks and messages otherwise).
int64_t FastInt(Napi::Env env, Napi::Value v, const char* name, int64_t min, int64_t max) {
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok && std::isfinite(d) && std::trunc(d) == d &&
      d >= static_cast<double>(min) && d <= static_cast<double>(max)) {
    return static_cast<int64_t>(d);
  }
  return ToInt(env, v, name, min, max);  // throws the precise error
}

// The shadow doorbell and EventIdx slots of one doorbell, or nulls when shadow is undefined.
struct Shadow {
  volatile uint32_t* db = nullptr;
  volatile const uint32_t* ei = nullptr;
};

Shadow ShadowSlots(Napi::Env env, Napi::Value shadowValue, Napi::Value dbIndexValue, Napi::Value eiIndexValue) {
  Shadow s;
  if (shadowValue.IsUndefined() || shadowValue.IsNull()) return s;
  auto shadow = TypedView<uint32_t>(env, shadowValue, "shadow", napi_uint32_array, "Uint32Array");
  size_t n = shadow.length;
  if (n == 0 || shadow.data == nullptr) ThrowArg(env, kErrClosed, "the shadow doorbell memory was released");
  int64_t db = FastInt(env, dbIndexValue, "shadowIndex", 0, kMaxSafeInteger);
  int64_t ei = FastInt(env, eiIndexValue, "eventIdxIndex", 0, kMaxSafeInteger);
  if (static_cast<uint64_t>(db) >= n || static_cast<uint64_t>(ei) >= n) {
    ThrowArg(env, kErrOutOfRange, "shadow index " + std::to_string(db) + " or EventIdx index " + std::to_string(ei) +
                                      " is outside the shadow buffer of " + std::to_string(n) + " dwords");
  }
  s.db = shadow.data + db;
  s.ei = shadow.data + ei;
  return s;
}

// Writes value to the shadow doorbell; true when the register must be written too: the
// controller's EventIdx lies in [old, value) (16-bit arithmetic, as the queue indices).
bool ShadowNeedsMmio(const Shadow& s, uint32_t value) {
  uint32_t old = *s.db;
  *s.db = value;
  // The shadow store must be visible before the EventIdx load (a full barrier: the
  // controller does the mirror image, EventIdx store then shadow load).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint32_t ei = *s.ei;
  return static_cast<uint16_t>(value - ei - 1) < static_cast<uint16_t>(value - old);
}

// The address of the 32-bit doorbell at `offset` of bar, after the checks.
volatile uint32_t* DoorbellAt(Napi::Env env, Napi::Value barValue, int64_t offset) {
  void* data = nullptr;
  size_t size = 0;
  if (napi_get_arraybuffer_info(env, barValue, &data, &size) != napi_ok) {
    ThrowArg(env, kErrInvalidArg, "bar must be an ArrayBuffer (Mapping.buffer), got " + Describe(barValue));
  }
  if (size == 0 || data == nullptr) ThrowArg(env, kErrClosed, "the BAR mapping was unmapped");
  if (size < 4 || static_cast<uint64_t>(offset) > size - 4) {
    ThrowArg(env, kErrOutOfRange, "doorbell offset " + std::to_string(offset) + " is outside the BAR of " + std::to_string(size) + " bytes");
  }
  if (offset % 4 != 0) ThrowArg(env, kErrMisaligned, "doorbell offset " + std::to_string(offset) + " is not dword aligned");
  return reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(data) + offset);
}

volatile uint32_t* Doorbell(Napi::Env env, Napi::Value barValue, Napi::Value offsetValue) {
  return DoorbellAt(env, barValue, FastInt(env, offsetValue, "doorbell", 0, kMaxSafeInteger));
}

// Reaps up to max entries of the CQ ring (depth 16-byte entries) whose Phase Tag equals
// *phase, from *head, into out (4 words each: [cid, status, sqhd, dw0]), and advances
// *head and *phase; then, when doorbell is given, writes the head once for the whole batch
// (through the shadow doorbell and its EventIdx test when there is one). Returns the count.
// head and phase are the caller's checked copies (head < depth, phase <= 1): the ring is
// memory the controller writes, and whatever holds the state may be written by another
// thread, so nothing that indexes memory is ever loaded twice (check, then use, one load).
int64_t Reap(const uint8_t* cq, uint32_t depth, uint32_t* headInOut, uint32_t* phaseInOut, uint32_t* out, int64_t max,
             volatile uint32_t* doorbell, const Shadow& shadow) {
  volatile const uint32_t* ring = reinterpret_cast<volatile const uint32_t*>(cq);
  uint32_t head = *headInOut;
  uint32_t phase = *phaseInOut;
  uint32_t* o = out;
  int64_t n = 0;
  while (n < max) {
    volatile const uint32_t* cqe = ring + head * 4;
    uint32_t dw3 = cqe[3];
    // The controller writes the entry and flips its Phase Tag last; an entry whose tag
    // still has the old value is not yet posted.
    if (((dw3 >> 16) & 1) != phase) break;
    // Read the rest of the entry only after seeing the tag (a read barrier, Linux's dma_rmb).
    std::atomic_thread_fence(std::memory_order_acquire);
    o[0] = dw3 & 0xffff;              // CID
    o[1] = (dw3 >> 16) & 0xfffe;      // Status Field (phase bit cleared)
    o[2] = cqe[2] & 0xffff;           // SQHD
    o[3] = cqe[0];                    // DW0, command specific
    o += 4;
    n++;
    if (++head == depth) {
      head = 0;
      phase ^= 1;  // the controller inverts the tag each time it wraps
    }
  }
  if (n > 0) {
    *headInOut = head;
    *phaseInOut = phase;
    // One CQyHDBL write per batch: it frees the reaped slots for the controller.
    if (doorbell != nullptr) {
      std::atomic_thread_fence(std::memory_order_release);
      if (shadow.db == nullptr || ShadowNeedsMmio(shadow, head)) *doorbell = head;
    }
  }
  return n;
}

// Loads [head, phase] once from st, checks them, reaps, and stores them back when they moved.
int64_t ReapState(Napi::Env env, const uint8_t* cq, uint32_t depth, uint32_t* st, uint32_t* out, int64_t max,
                  volatile uint32_t* doorbell, const Shadow& shadow) {
  uint32_t head = st[0];
  uint32_t phase = st[1];
  if (head >= depth || phase > 1) {
    ThrowArg(env, kErrOutOfRange, "state [" + std::to_string(head) + ", " + std::to_string(phase) +
                                      "] is not a head and phase of a queue of " + std::to_string(depth));
  }
  int64_t n = Reap(cq, depth, &head, &phase, out, max, doorbell, shadow);
  if (n > 0) {
    st[0] = head;
    st[1] = phase;
  }
  return n;
}

Napi::Value CqPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto cq = TypedView<uint8_t>(env, Arg(info, 0), "cq", napi_uint8_array, "Uint8Array");
  auto state = TypedView<uint32_t>(env, Arg(info, 1), "state", napi_uint32_array, "Uint32Array");
  volatile uint32_t* doorbell = Doorbell(env, Arg(info, 2), Arg(info, 3));
  auto out = TypedView<uint32_t>(env, Arg(info, 4), "out", napi_uint32_array, "Uint32Array");
  int64_t max = FastInt(env, Arg(info, 5), "max", 0, 65536);
  Shadow shadow = ShadowSlots(env, Arg(info, 6), Arg(info, 7), Arg(info, 8));
  bool announce = true;
  if (info.Length() > 9 && !info[9].IsUndefined() && napi_get_value_bool(env, info[9], &announce) != napi_ok) {
    ThrowArg(env, kErrInvalidArg, "announce must be a boolean, got " + Describe(info[9]));
  }

  size_t bytes = cq.length;
  if (bytes == 0 || cq.data == nullptr) ThrowArg(env, kErrClosed, "the completion queue memory was released");
  if (bytes % kCqeSize != 0 || bytes / kCqeSize < 2) {
    ThrowArg(env, kErrInvalidArg, "cq must hold a whole number (>= 2) of 16-byte entries, got " + std::to_string(bytes) + " bytes");
  }
  if ((reinterpret_cast<uintptr_t>(cq.data) & 3) != 0) ThrowArg(env, kErrMisaligned, "cq is not dword aligned");
  uint32_t depth = static_cast<uint32_t>(bytes / kCqeSize);
  if (state.length < 2 || state.data == nullptr) ThrowArg(env, kErrInvalidArg, "state must hold [head, phase]");
  if (static_cast<uint64_t>(max) * 4 > out.length || (max > 0 && out.data == nullptr)) {
    ThrowArg(env, kErrOutOfRange, "out holds " + std::to_string(out.length / 4) + " completions, max is " + std::to_string(max));
  }

  int64_t n = ReapState(env, cq.data, depth, state.data, out.data, max, announce ? doorbell : nullptr, shadow);
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value SqRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  volatile uint32_t* doorbell = Doorbell(env, Arg(info, 0), Arg(info, 1));
  int64_t tail = FastInt(env, Arg(info, 2), "tail", 0, 65535);
  Shadow shadow = ShadowSlots(env, Arg(info, 3), Arg(info, 4), Arg(info, 5));
  // The submission queue entries were written by JavaScript before this call; the fence
  // keeps those stores ahead of the doorbell store (Linux's wmb before writel).
  std::atomic_thread_fence(std::memory_order_release);
  bool mmio = shadow.db == nullptr || ShadowNeedsMmio(shadow, static_cast<uint32_t>(tail));
  if (mmio) *doorbell = static_cast<uint32_t>(tail);
  return Napi::Boolean::New(env, mmio);
}

// ---- NvmeQueue: the same hot path with the queue's memory checked once ----------------
//
// nvmeCqPoll and nvmeSqRing take every typed array again on each call, and checking them
// is most of their cost (callgrind: about 4,700 instructions per I/O at depth 1, nearly all
// N-API argument handling). A queue pair's memory does not change, so NvmeQueue checks it
// once, pins it (a reference on the DMA buffer table: the memory stays mapped while the
// handle lives, even if JavaScript releases it) and keeps raw pointers. Per call, only the
// BAR (whose mapping JavaScript may unmap) and the integers are checked.
//
// The host words (head, phase, completions out) are the host's own state, so they must not
// lie in memory the IOMMU maps: the DMA allocator maps whole 2 MiB chunks, and a device (or
// anything with the buffer's id) could rewrite the head between our check and our use.
// They live in a SharedArrayBuffer: never IOMMU-mapped, never detached, kept alive by the
// handle's reference, and still readable from JavaScript (and from a worker, if shared).
//
//   new NvmeQueue(cqId, cqOffset, cqBytes, host, shadowId, shadowOffset, shadowBytes,
//                 sqDoorbell, cqDoorbell, sqShadow, sqEventIdx, cqShadow, cqEventIdx)
//     cq*      the completion ring in DMA buffer cqId (16-byte entries)
//     host     a Uint32Array over a SharedArrayBuffer: [head, phase, then 4 words per completion]
//     shadow*  the Shadow Doorbell and EventIdx pages (shadowId 0: none) and the dword
//              indices of this queue's entries in them
//   poll(bar, max, announce) -> count     as nvmeCqPoll, completions in host[2..]
//   ring(bar, tail) -> wrote register      as nvmeSqRing
//   announceHead(bar) -> wrote register    the CQ head (host[0]) through the same test
//   close()                                drops the pins; later calls throw ERR_CLOSED

// The host words: a Uint32Array of at least `words` elements over a SharedArrayBuffer.
uint32_t* HostWords(Napi::Env env, Napi::Value v, size_t words) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  bool plain = true;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, nullptr) != napi_ok || type != napi_uint32_array ||
      napi_is_arraybuffer(env, buffer, &plain) != napi_ok || plain) {
    // An ArrayBuffer can be detached or transferred, and a DMA buffer's is device-writable.
    ThrowArg(env, kErrInvalidArg, "host must be a Uint32Array over a SharedArrayBuffer, got " + Describe(v));
  }
  if (length < words || data == nullptr) {
    ThrowArg(env, kErrOutOfRange, "host must hold 2 + 4 * depth = " + std::to_string(words) + " words, got " + std::to_string(length));
  }
  return static_cast<uint32_t*>(data);
}

struct Pinned {
  uint64_t id = 0;
  uint8_t* data = nullptr;
  size_t bytes = 0;
};

Pinned PinRegion(Napi::Env env, const Napi::CallbackInfo& info, size_t at, const char* name) {
  int64_t id = FastInt(env, Arg(info, at), name, 1, kMaxSafeInteger);
  int64_t offset = FastInt(env, Arg(info, at + 1), "offset", 0, kMaxSafeInteger);
  int64_t bytes = FastInt(env, Arg(info, at + 2), "bytes", 4, kMaxSafeInteger);
  void* base = nullptr;
  size_t size = 0;
  if (!DmaPin(static_cast<uint64_t>(id), &base, &size)) {
    ThrowArg(env, kErrClosed, std::string(name) + ": DMA buffer " + std::to_string(id) + " is not open");
  }
  if (static_cast<uint64_t>(offset) > size || static_cast<uint64_t>(bytes) > size - static_cast<uint64_t>(offset) ||
      (offset % 4) != 0) {
    DmaUnpin(static_cast<uint64_t>(id));
    ThrowArg(env, kErrOutOfRange, std::string(name) + ": " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                                      " (dword aligned) do not fit DMA buffer " + std::to_string(id) + " of " + std::to_string(size) + " bytes");
  }
  return {static_cast<uint64_t>(id), static_cast<uint8_t*>(base) + offset, static_cast<size_t>(bytes)};
}

class NvmeQueue : public Napi::ObjectWrap<NvmeQueue> {
 public:
  static constexpr napi_type_tag kTypeTag = {0xc84f2b106e9d3a75ULL, 0x6a0e5d93b7f21c48ULL};
  static constexpr const char* kClassName = "NvmeQueue";
  static NvmeQueue* Unwrap(Napi::Object self) { return UnwrapReceiver<NvmeQueue>(self); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NvmeQueue",
                       {
                           InstanceMethod<&NvmeQueue::Poll>("poll"),
                           InstanceMethod<&NvmeQueue::Ring>("ring"),
                           InstanceMethod<&NvmeQueue::AnnounceHead>("announceHead"),
                           InstanceMethod<&NvmeQueue::Close>("close"),
                       });
  }

  explicit NvmeQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NvmeQueue>(info) {
    Napi::Env env = info.Env();
    TagReceiver<NvmeQueue>(env, info.This().As<Napi::Object>());
    sqDoorbell_ = FastInt(env, Arg(info, 7), "sqDoorbell", 0, 1 << 30);
    cqDoorbell_ = FastInt(env, Arg(info, 8), "cqDoorbell", 0, 1 << 30);
    if (sqDoorbell_ % 4 != 0 || cqDoorbell_ % 4 != 0) ThrowArg(env, kErrMisaligned, "doorbell offsets must be dword aligned");
    cq_ = PinRegion(env, info, 0, "cq");
    try {
      if (cq_.bytes % kCqeSize != 0 || cq_.bytes / kCqeSize < 2) {
        ThrowArg(env, kErrInvalidArg, "cq must hold a whole number (>= 2) of 16-byte entries, got " + std::to_string(cq_.bytes) + " bytes");
      }
      depth_ = static_cast<uint32_t>(cq_.bytes / kCqeSize);
      host_ = HostWords(env, Arg(info, 3), 2 + 4 * static_cast<size_t>(depth_));
      hostRef_ = Napi::Persistent(Arg(info, 3).As<Napi::Object>());  // keeps the SharedArrayBuffer alive
      int64_t shadowId = FastInt(env, Arg(info, 4), "shadowId", 0, kMaxSafeInteger);
      if (shadowId != 0) {
        shadowRegion_ = PinRegion(env, info, 4, "shadow");
        size_t words = shadowRegion_.bytes / 4;
        int64_t idx[4];
        const char* names[4] = {"sqShadow", "sqEventIdx", "cqShadow", "cqEventIdx"};
        for (int i = 0; i < 4; i++) idx[i] = FastInt(env, Arg(info, 9 + i), names[i], 0, static_cast<int64_t>(words) - 1);
        auto* w = reinterpret_cast<uint32_t*>(shadowRegion_.data);
        sq_ = {w + idx[0], w + idx[1]};
        cqs_ = {w + idx[2], w + idx[3]};
      }
    } catch (...) {  // a throwing constructor never reaches ~NvmeQueue
      Unpin();
      throw;
    }
  }

  ~NvmeQueue() override { Unpin(); }

 private:
  void Unpin() {
    for (Pinned* p : {&cq_, &shadowRegion_}) {
      if (p->id != 0) DmaUnpin(p->id);
      *p = Pinned{};
    }
    sq_ = cqs_ = Shadow{};
    host_ = nullptr;
    hostRef_.Reset();
  }

  void CheckOpen(Napi::Env env) {
    if (cq_.id == 0) ThrowArg(env, kErrClosed, "the NVMe queue handle was closed");
  }

  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    volatile uint32_t* doorbell = DoorbellAt(env, Arg(info, 0), cqDoorbell_);
    int64_t max = FastInt(env, Arg(info, 1), "max", 0, depth_);
    bool announce = true;
    if (info.Length() > 2 && !info[2].IsUndefined() && napi_get_value_bool(env, info[2], &announce) != napi_ok) {
      ThrowArg(env, kErrInvalidArg, "announce must be a boolean, got " + Describe(info[2]));
    }
    int64_t n = ReapState(env, cq_.data, depth_, host_, host_ + 2, max, announce ? doorbell : nullptr, cqs_);
    return Napi::Number::New(env, static_cast<double>(n));
  }

  Napi::Value Ring(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    volatile uint32_t* doorbell = DoorbellAt(env, Arg(info, 0), sqDoorbell_);
    int64_t tail = FastInt(env, Arg(info, 1), "tail", 0, 65535);
    std::atomic_thread_fence(std::memory_order_release);
    bool mmio = sq_.db == nullptr || ShadowNeedsMmio(sq_, static_cast<uint32_t>(tail));
    if (mmio) *doorbell = static_cast<uint32_t>(tail);
    return Napi::Boolean::New(env, mmio);
  }

  Napi::Value AnnounceHead(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    volatile uint32_t* doorbell = DoorbellAt(env, Arg(info, 0), cqDoorbell_);
    uint32_t head = host_[0];  // one load: checked, then used
    if (head >= depth_) ThrowArg(env, kErrOutOfRange, "head " + std::to_string(head) + " is outside the queue of " + std::to_string(depth_));
    std::atomic_thread_fence(std::memory_order_release);
    bool mmio = cqs_.db == nullptr || ShadowNeedsMmio(cqs_, head);
    if (mmio) *doorbell = head;
    return Napi::Boolean::New(env, mmio);
  }

  void Close(const Napi::CallbackInfo&) { Unpin(); }

  Pinned cq_, shadowRegion_;
  uint32_t* host_ = nullptr;             // in the SharedArrayBuffer that hostRef_ holds
  Napi::ObjectReference hostRef_;
  Shadow sq_, cqs_;
  uint32_t depth_ = 0;
  int64_t sqDoorbell_ = 0, cqDoorbell_ = 0;
};

}  // namespace

void InitNvmeQueue(Napi::Env env, Napi::Object exports) {
  exports.Set("nvmeCqPoll", Napi::Function::New<CqPoll>(env, "nvmeCqPoll"));
  exports.Set("nvmeSqRing", Napi::Function::New<SqRing>(env, "nvmeSqRing"));
  exports.Set("NvmeQueue", NvmeQueue::Define(env));
}

}  // namespace vfio_node
