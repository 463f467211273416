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
//   flips phase when head wraps), and writes CQyHDBL once for the whole batch.
//
//   nvmeSqRing(bar, sqTailDoorbell, tail)
//     Makes the submission queue entries written so far visible, then writes SQyTDBL.
//
// No allocation, no JS object beyond the arguments; every length and offset is checked
// and a bad one throws (never a wild pointer).
#include "nvme_queue.h"

#include <atomic>
#include <cstdint>
#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vfio_node {
namespace {

constexpr size_t kCqeSize = 16;

// A typed array of the given type, or throw naming the argument.
template <typename T>
Napi::TypedArrayOf<T> ToTypedArray(Napi::Env env, Napi::Value v, const char* name, napi_typedarray_type type,
                                   const char* typeName) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a " + typeName + ", got " + Describe(v));
  }
  return v.As<Napi::TypedArrayOf<T>>();
}

// The address of the 32-bit doorbell at `offset` of bar, after the checks.
volatile uint32_t* Doorbell(Napi::Env env, Napi::Value barValue, Napi::Value offsetValue) {
  if (!barValue.IsArrayBuffer()) ThrowArg(env, kErrInvalidArg, "bar must be an ArrayBuffer (Mapping.buffer), got " + Describe(barValue));
  Napi::ArrayBuffer bar = barValue.As<Napi::ArrayBuffer>();
  size_t size = bar.ByteLength();
  if (size == 0 || bar.Data() == nullptr) ThrowArg(env, kErrClosed, "the BAR mapping was unmapped");
  int64_t offset = ToInt(env, offsetValue, "doorbell", 0, kMaxSafeInteger);
  if (size < 4 || static_cast<uint64_t>(offset) > size - 4) {
    ThrowArg(env, kErrOutOfRange, "doorbell offset " + std::to_string(offset) + " is outside the BAR of " + std::to_string(size) + " bytes");
  }
  if (offset % 4 != 0) ThrowArg(env, kErrMisaligned, "doorbell offset " + std::to_string(offset) + " is not dword aligned");
  return reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(bar.Data()) + offset);
}

Napi::Value CqPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto cq = ToTypedArray<uint8_t>(env, Arg(info, 0), "cq", napi_uint8_array, "Uint8Array");
  auto state = ToTypedArray<uint32_t>(env, Arg(info, 1), "state", napi_uint32_array, "Uint32Array");
  volatile uint32_t* doorbell = Doorbell(env, Arg(info, 2), Arg(info, 3));
  auto out = ToTypedArray<uint32_t>(env, Arg(info, 4), "out", napi_uint32_array, "Uint32Array");
  int64_t max = ToInt(env, Arg(info, 5), "max", 0, 65536);

  size_t bytes = cq.ByteLength();
  if (bytes == 0 || cq.Data() == nullptr) ThrowArg(env, kErrClosed, "the completion queue memory was released");
  if (bytes % kCqeSize != 0 || bytes / kCqeSize < 2) {
    ThrowArg(env, kErrInvalidArg, "cq must hold a whole number (>= 2) of 16-byte entries, got " + std::to_string(bytes) + " bytes");
  }
  if ((reinterpret_cast<uintptr_t>(cq.Data()) & 3) != 0) ThrowArg(env, kErrMisaligned, "cq is not dword aligned");
  uint32_t depth = static_cast<uint32_t>(bytes / kCqeSize);
  if (state.ElementLength() < 2) ThrowArg(env, kErrInvalidArg, "state must hold [head, phase]");
  uint32_t* st = state.Data();
  uint32_t head = st[0];
  uint32_t phase = st[1];
  if (head >= depth) ThrowArg(env, kErrOutOfRange, "state head " + std::to_string(head) + " is outside the queue of " + std::to_string(depth));
  if (phase > 1) ThrowArg(env, kErrOutOfRange, "state phase must be 0 or 1, got " + std::to_string(phase));
  if (static_cast<uint64_t>(max) * 4 > out.ElementLength()) {
    ThrowArg(env, kErrOutOfRange, "out holds " + std::to_string(out.ElementLength() / 4) + " completions, max is " + std::to_string(max));
  }

  volatile const uint32_t* ring = reinterpret_cast<volatile const uint32_t*>(cq.Data());
  uint32_t* o = out.Data();
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
    st[0] = head;
    st[1] = phase;
    // One CQyHDBL write per batch: it frees the reaped slots for the controller.
    std::atomic_thread_fence(std::memory_order_release);
    *doorbell = head;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

void SqRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  volatile uint32_t* doorbell = Doorbell(env, Arg(info, 0), Arg(info, 1));
  int64_t tail = ToInt(env, Arg(info, 2), "tail", 0, 65535);
  // The submission queue entries were written by JavaScript before this call; the fence
  // keeps those stores ahead of the doorbell store (Linux's wmb before writel).
  std::atomic_thread_fence(std::memory_order_release);
  *doorbell = static_cast<uint32_t>(tail);
}

}  // namespace

void InitNvmeQueue(Napi::Env env, Napi::Object exports) {
  exports.Set("nvmeCqPoll", Napi::Function::New<CqPoll>(env, "nvmeCqPoll"));
  exports.Set("nvmeSqRing", Napi::Function::New<SqRing>(env, "nvmeSqRing"));
}

}  // namespace vfio_node
