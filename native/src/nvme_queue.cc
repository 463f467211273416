// The NVMe queue hot path (NVM Express Base Specification 2.0, §3.3.1 Memory-based
// Transport Queue Model; the Completion Queue Entry and its Phase Tag, §4.2.4 of 2.0).
// JavaScript posts submission queue entries itself (plain typed-array stores into DMA
// memory); what it cannot do cheaply is the per-completion loop with its ordering rules
// and the doorbell with its fences, so those live here, once each: WriteDoorbell (every
// SQ tail and CQ head write) and Reap (every completion).
//
// One native object per queue pair, NvmeQueue, checks the queue's memory once when it is
// made, pins it (a reference on the DMA buffer table: the memory stays mapped while the
// handle lives, even if JavaScript releases it) and keeps raw pointers. Per call, only
// the BAR (whose mapping JavaScript may unmap) and the integers are checked. A JavaScript
// mistake (a bad offset, length, index, a released buffer, a closed handle) is an
// exception, never a wild pointer. poll, pollTraced, ring and announceHead are the object's own
// functions, bound to its state (see Hot): a call costs no receiver check.
//
//   new NvmeQueue(cqId, cqOffset, cqBytes, host, shadowId, shadowOffset, shadowBytes,
//                 sqDoorbell, cqDoorbell, sqShadow, sqEventIdx, cqShadow, cqEventIdx)
//     cq*      the completion ring in DMA buffer cqId (16-byte entries, depth = cqBytes / 16)
//     host     a Uint32Array over a SharedArrayBuffer: [head, phase, then 4 words per
//              completion: cid, status (DW3 bits 31:16, phase bit cleared), sqhd, dw0]
//     shadow*  the Shadow Doorbell page and the EventIdx page in DMA buffer shadowId
//              (0: no shadow doorbells) and the dword indices of this queue's entries
//     sq/cqDoorbell  byte offsets of SQyTDBL and CQyHDBL in BAR0
//   poll(bar, max, announce = true) -> count   reaps up to max completions into host[2..],
//                                              then writes the CQ head (unless announce is false)
//   pollTraced(bar, max, announce = true)      the same, for a traced queue: returns count * 2,
//     -> count * 2 + wrote                     plus 1 when the CQ head went to the register (with
//                                              shadow doorbells, whether EventIdx was crossed)
//   ring(bar, tail, force = false) -> wrote    writes the SQ tail (force: the register even
//                                              when the shadow doorbell would do)
//   announceHead(bar) -> wrote                 writes the CQ head host[0] (lazy CQ head doorbell)
//   close()                                    drops the pins; later calls throw ERR_CLOSED
//
// The safety rule: a value read from memory a device can write is loaded once, checked,
// then used; host-only state never lives in IOMMU-mapped memory. The host words are the
// host's own state, so they lie in a SharedArrayBuffer: never IOMMU-mapped (the DMA
// allocator maps whole 2 MiB chunks, and a device could rewrite a head between our check
// and our use), never detached, kept alive by the handle's reference.
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

// An integer argument in [min, max] with one N-API call (ToInt's checks and messages otherwise).
int64_t FastInt(Napi::Env env, Napi::Value v, const char* name, int64_t min, int64_t max) {
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok && std::isfinite(d) && std::trunc(d) == d &&
      d >= static_cast<double>(min) && d <= static_cast<double>(max)) {
    return static_cast<int64_t>(d);
  }
  return ToInt(env, v, name, min, max);  // throws the precise error
}

// An optional boolean argument (undefined: dflt).
bool OptionalBool(Napi::Env env, Napi::Value v, const char* name, bool dflt) {
  bool value = dflt;
  if (napi_get_value_bool(env, v, &value) == napi_ok) return value;
  if (v.IsUndefined()) return dflt;
  ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a boolean, got " + Describe(v));
}

// The address of the 32-bit doorbell at `offset` of bar (Mapping.buffer), after the checks.
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
  return reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(data) + offset);
}

// ---- the two hardware sequences ----------------------------------------------------------

// One doorbell's entries in the Shadow Doorbell and EventIdx pages (nulls: none).
struct Shadow {
  volatile uint32_t* db = nullptr;
  volatile const uint32_t* ei = nullptr;
};

// Writes `value` (a new SQ tail or CQ head) to one doorbell; returns whether the register
// was written. Every doorbell write of the driver goes through here.
bool WriteDoorbell(volatile uint32_t* reg, const Shadow& shadow, uint32_t value, bool force) {
  // The stores this value announces (SQ entries written by JavaScript) and the loads of
  // the CQ entries it gives back come before it (Linux's wmb before writel).
  std::atomic_thread_fence(std::memory_order_release);
  bool mmio = true;
  if (shadow.db != nullptr) {
    // Shadow doorbells (Doorbell Buffer Config, §5.8; the Shadow Doorbell buffer and
    // EventIdx, §7.13 of 1.4): the value goes to the shadow entry, and the register is
    // written only when the value passes the EventIdx the controller published, i.e. the
    // EventIdx lies in [old, value) in 16-bit arithmetic (virtio's EVENT_IDX rule, Linux's
    // nvme_dbbuf_need_event).
    uint32_t old = *shadow.db;
    *shadow.db = value;
    // The shadow store must be visible before the EventIdx load (a full barrier: the
    // controller does the mirror image, EventIdx store then shadow load).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint32_t ei = *shadow.ei;  // device-written: this one load is tested
    mmio = static_cast<uint16_t>(value - ei - 1) < static_cast<uint16_t>(value - old);
  }
  if (mmio || force) *reg = value;  // SQyTDBL / CQyHDBL (§3.1.24, §3.1.25 of 1.4): one 32-bit store
  return mmio || force;
}

// Reaps up to max entries of the CQ ring (depth 16-byte entries) whose Phase Tag equals
// *phase, from *head, into out (4 words each: [cid, status, sqhd, dw0]), and advances
// *head and *phase. head and phase are the caller's checked copies (head < depth,
// phase <= 1), so the only index into the ring is one we checked. Returns the count.
// Always inlined: poll and pollTraced (two instances of Poll) both call it, and a call
// costs the untraced poll about 25 instructions per I/O (bench/cost, "Tracing off").
static inline __attribute__((always_inline)) int64_t Reap(const uint8_t* cq, uint32_t depth, uint32_t* headInOut, uint32_t* phaseInOut, uint32_t* out, int64_t max) {
  volatile const uint32_t* ring = reinterpret_cast<volatile const uint32_t*>(cq);
  uint32_t head = *headInOut;
  uint32_t phase = *phaseInOut;
  uint32_t* o = out;
  int64_t n = 0;
  while (n < max) {
    volatile const uint32_t* cqe = ring + head * 4;
    // Each word of the entry is loaded once; what is stored in out is what was checked.
    uint32_t dw3 = cqe[3];
    // The controller writes the entry and flips its Phase Tag last; an entry whose tag
    // still has the old value is not yet posted.
    if (((dw3 >> 16) & 1) != phase) break;
    // Read the rest of the entry only after seeing the tag (a read barrier, Linux's dma_rmb).
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t dw2 = cqe[2];
    uint32_t dw0 = cqe[0];
    o[0] = dw3 & 0xffff;          // CID (JavaScript checks it against its table)
    o[1] = (dw3 >> 16) & 0xfffe;  // Status Field, phase bit cleared
    o[2] = dw2 & 0xffff;          // SQ Head Pointer
    o[3] = dw0;                   // DW0, command specific
    o += 4;
    n++;
    if (++head == depth) {
      head = 0;
      phase ^= 1;  // the controller inverts the tag each time it wraps
    }
  }
  *headInOut = head;
  *phaseInOut = phase;
  return n;
}

// ---- NvmeQueue ------------------------------------------------------------------------

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

// [offset, offset + bytes) of DMA buffer id (arguments at, at + 1, at + 2), pinned.
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

// The queue's state: the pinned memory and the raw pointers into it. The NvmeQueue object
// and each of its three hot functions hold a reference; the pins go with close() or with
// the last reference (a function taken off the object keeps the state, never a dangling
// pointer to it).
struct QueueState {
  int refs = 1;  // the object's; one per hot function (all on the one JavaScript thread that made them)
  Pinned cq, shadowRegion;
  uint32_t* host = nullptr;  // in the SharedArrayBuffer that hostRef holds
  napi_ref hostRef = nullptr;
  Shadow sq, cqs;
  uint32_t depth = 0;
  int64_t sqDoorbell = 0, cqDoorbell = 0;

  void Unpin(napi_env env) {
    for (Pinned* p : {&cq, &shadowRegion}) {
      if (p->id != 0) DmaUnpin(p->id);
      *p = Pinned{};
    }
    sq = cqs = Shadow{};
    host = nullptr;
    if (hostRef != nullptr) napi_delete_reference(env, hostRef);
    hostRef = nullptr;
  }
  static void Release(napi_env env, QueueState* s) {
    if (--s->refs > 0) return;
    s->Unpin(env);
    delete s;
  }

  void CheckOpen(Napi::Env env) const {
    if (cq.id == 0) ThrowArg(env, kErrClosed, "the NVMe queue handle was closed");
  }
  // The CQ head from the host words, loaded once and checked (another thread holding the
  // SharedArrayBuffer could write it).
  uint32_t Head(Napi::Env env) const {
    uint32_t head = host[0];
    if (head >= depth) ThrowArg(env, kErrOutOfRange, "head " + std::to_string(head) + " is outside the queue of " + std::to_string(depth));
    return head;
  }
};

// poll(bar, max, announce = true) -> count; pollTraced (kTraced): count * 2 + whether the CQ
// head doorbell reached the register. Two instances of one template: poll, the one used when
// tracing is off, does nothing more than before tracing existed (`wrote` is dead code there).
template <bool kTraced>
napi_value Poll(Napi::Env env, QueueState* q, size_t argc, napi_value* argv) {
  q->CheckOpen(env);
  volatile uint32_t* doorbell = DoorbellAt(env, Napi::Value(env, argv[0]), q->cqDoorbell);
  int64_t max = FastInt(env, Napi::Value(env, argv[1]), "max", 0, q->depth);
  bool announce = argc < 3 || OptionalBool(env, Napi::Value(env, argv[2]), "announce", true);
  uint32_t head = q->Head(env);
  uint32_t phase = q->host[1];
  if (phase > 1) ThrowArg(env, kErrOutOfRange, "phase " + std::to_string(phase) + " is not 0 or 1");
  int64_t n = Reap(q->cq.data, q->depth, &head, &phase, q->host + 2, max);
  bool wrote = false;
  if (n > 0) {
    q->host[0] = head;
    q->host[1] = phase;
    // One CQyHDBL write per batch: it frees the reaped slots for the controller.
    if (announce) wrote = WriteDoorbell(doorbell, q->cqs, head, false);
  }
  napi_value result;
  napi_create_double(env, kTraced ? static_cast<double>(n * 2 + (wrote ? 1 : 0)) : static_cast<double>(n), &result);
  return result;
}

napi_value Bool(napi_env env, bool b) {
  napi_value result;
  napi_get_boolean(env, b, &result);
  return result;
}

// ring(bar, tail, force = false) -> wrote the register
napi_value Ring(Napi::Env env, QueueState* q, size_t argc, napi_value* argv) {
  q->CheckOpen(env);
  volatile uint32_t* doorbell = DoorbellAt(env, Napi::Value(env, argv[0]), q->sqDoorbell);
  int64_t tail = FastInt(env, Napi::Value(env, argv[1]), "tail", 0, q->depth - 1);
  bool force = argc >= 3 && OptionalBool(env, Napi::Value(env, argv[2]), "force", false);
  return Bool(env, WriteDoorbell(doorbell, q->sq, static_cast<uint32_t>(tail), force));
}

// announceHead(bar) -> wrote the register
napi_value AnnounceHead(Napi::Env env, QueueState* q, size_t, napi_value* argv) {
  q->CheckOpen(env);
  volatile uint32_t* doorbell = DoorbellAt(env, Napi::Value(env, argv[0]), q->cqDoorbell);
  return Bool(env, WriteDoorbell(doorbell, q->cqs, q->Head(env), false));
}

// The hot functions are bound to their queue's state (the callback's data), so a call needs
// no receiver check and no unwrap. Those were ObjectWrap's method dispatch plus two
// private-symbol lookups per call (napi_check_object_type_tag, napi_unwrap): callgrind
// counted a host-only QueuePair loop at queue depth 1 (submitIo, ring, poll; two calls per
// I/O) at 6,570 instructions per I/O with them and 2,770 without.
template <napi_value (*F)(Napi::Env, QueueState*, size_t, napi_value*)>
napi_value Hot(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];  // napi_get_cb_info fills what was not passed with undefined
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &data) != napi_ok || data == nullptr) return nullptr;
  try {
    return F(Napi::Env(env), static_cast<QueueState*>(data), argc, argv);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
}

class NvmeQueue : public Napi::ObjectWrap<NvmeQueue> {
 public:
  static constexpr napi_type_tag kTypeTag = {0xc84f2b106e9d3a75ULL, 0x6a0e5d93b7f21c48ULL};
  static constexpr const char* kClassName = "NvmeQueue";
  static NvmeQueue* Unwrap(Napi::Object self) { return UnwrapReceiver<NvmeQueue>(self); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NvmeQueue", {InstanceMethod<&NvmeQueue::Close>("close")});
  }

  explicit NvmeQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NvmeQueue>(info) {
    Napi::Env env = info.Env();
    Napi::Object self = info.This().As<Napi::Object>();
    TagReceiver<NvmeQueue>(env, self);
    q_ = new QueueState();
    try {
      q_->sqDoorbell = FastInt(env, Arg(info, 7), "sqDoorbell", 0, 1 << 30);
      q_->cqDoorbell = FastInt(env, Arg(info, 8), "cqDoorbell", 0, 1 << 30);
      if (q_->sqDoorbell % 4 != 0 || q_->cqDoorbell % 4 != 0) ThrowArg(env, kErrMisaligned, "doorbell offsets must be dword aligned");
      q_->cq = PinRegion(env, info, 0, "cq");
      if (q_->cq.bytes % kCqeSize != 0 || q_->cq.bytes / kCqeSize < 2 || q_->cq.bytes / kCqeSize > 65536) {
        ThrowArg(env, kErrInvalidArg, "cq must hold a whole number (2 to 65536) of 16-byte entries, got " + std::to_string(q_->cq.bytes) + " bytes");
      }
      q_->depth = static_cast<uint32_t>(q_->cq.bytes / kCqeSize);
      q_->host = HostWords(env, Arg(info, 3), 2 + 4 * static_cast<size_t>(q_->depth));
      NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, Arg(info, 3), 1, &q_->hostRef));  // keeps the SharedArrayBuffer alive
      int64_t shadowId = FastInt(env, Arg(info, 4), "shadowId", 0, kMaxSafeInteger);
      if (shadowId != 0) {
        q_->shadowRegion = PinRegion(env, info, 4, "shadow");
        size_t words = q_->shadowRegion.bytes / 4;
        int64_t idx[4];
        const char* names[4] = {"sqShadow", "sqEventIdx", "cqShadow", "cqEventIdx"};
        for (int i = 0; i < 4; i++) idx[i] = FastInt(env, Arg(info, 9 + i), names[i], 0, static_cast<int64_t>(words) - 1);
        auto* w = reinterpret_cast<uint32_t*>(q_->shadowRegion.data);
        q_->sq = {w + idx[0], w + idx[1]};
        q_->cqs = {w + idx[2], w + idx[3]};
      }
      // poll, pollTraced, ring and announceHead: own, read-only properties bound to the state.
      struct { const char* name; napi_callback cb; } hot[] = {
          {"poll", Hot<Poll<false>>}, {"pollTraced", Hot<Poll<true>>}, {"ring", Hot<Ring>}, {"announceHead", Hot<AnnounceHead>}};
      for (const auto& h : hot) {
        napi_value fn;
        NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, h.name, NAPI_AUTO_LENGTH, h.cb, q_, &fn));
        q_->refs++;
        if (napi_add_finalizer(env, fn, q_, [](napi_env e, void* data, void*) { QueueState::Release(e, static_cast<QueueState*>(data)); },
                               nullptr, nullptr) != napi_ok) {
          q_->refs--;
          ThrowArg(env, kErrInvalidArg, "NvmeQueue: could not bind its functions");
        }
        self.DefineProperty(Napi::PropertyDescriptor::Value(h.name, Napi::Value(env, fn), napi_default));
      }
    } catch (...) {  // a throwing constructor never reaches ~NvmeQueue: the pins go now
      q_->Unpin(env);
      QueueState::Release(env, q_);
      q_ = nullptr;
      throw;
    }
  }

  ~NvmeQueue() override {
    if (q_ != nullptr) {
      q_->Unpin(Env());  // the object is gone: nobody can close() it any more
      QueueState::Release(Env(), q_);
    }
  }

 private:
  void Close(const Napi::CallbackInfo& info) { q_->Unpin(info.Env()); }

  QueueState* q_ = nullptr;
};

}  // namespace

void InitNvmeQueue(Napi::Env env, Napi::Object exports) { exports.Set("NvmeQueue", NvmeQueue::Define(env)); }

}  // namespace vfio_node
