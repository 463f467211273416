// The virtio-net transmit hot loop on a split virtqueue (Virtual I/O Device (VIRTIO)
// Version 1.2, §2.7 "Split Virtqueues"). JavaScript builds the ring, the packet pool and
// the frames; what costs it per packet (take a free buffer, stamp a sequence number, post
// the descriptor, then reclaim what the device used) runs here, one call per batch:
//
//   virtioSplitTxBurst(ring, state, free, pool, params, bar) -> sent
//     ring    Uint8Array over the whole split virtqueue block: descriptor table at 0,
//             available ring at 16 × size, used ring at params[1] (splitLayout in
//             drivers/virtio-net/src/split-ring.ts)
//     state   Uint32Array [availIdx, publishedIdx, lastUsedIdx, freeCount], shared with
//             JavaScript and updated here (the indexes run modulo 2^16); when it holds 6
//             values, [4] and [5] say what step 3 decided, for the trace: 1 notified or 0
//             not, and the device's word it read (avail_event, or used.flags)
//     free    Uint16Array of `size` buffer ids; free[0..freeCount) are the free ones
//     pool    Uint8Array of the packet buffers, buffer id at id × bufferSize, each
//             [virtio_net_hdr (12 bytes)][frame]; frames were written beforehand
//     params  Uint32Array [size, usedOffset, bufferSize, count, frameLen, seqOffset
//             (0xffffffff: none), seq, eventIdx (0/1), doorbell, vq, csumStart,
//             csumOffset]
//     bar     ArrayBuffer of the notification BAR's mapping (Mapping.buffer)
//   1. Reclaims the buffers the device has used (§2.7.14): their ids go back on the free list.
//   2. Takes up to `count` free buffers; writes `seq`, `seq + 1`, ... big-endian at
//      `seqOffset` of each frame (when asked); writes the frame's virtio_net_hdr flags
//      (§5.1.6.2): VIRTIO_NET_HDR_F_NEEDS_CSUM with csum_start and csum_offset when
//      csumStart is not 0 (checksum offload: the frame holds the pseudo-header sum in its
//      checksum field), else 0; posts descriptor `id` with length
//      12 + frameLen, device-readable (descriptor id always points at buffer id: the
//      address was written once at set-up).
//   3. Publishes the batch: one store of avail.idx after a barrier (§2.7.13.3.1), then
//      notifies through the doorbell when the device asked for it (§2.7.13.4 with
//      VIRTIO_F_EVENT_IDX: vring_need_event(avail_event, new, old), §2.7.10; without:
//      unless VIRTQ_USED_F_NO_NOTIFY).
//   Returns the number of frames posted (0 when the ring is full); params[6] is not
//   advanced (the caller adds the result).
//
// No allocation; every length, index and offset is checked, and an id the device
// returns outside the queue throws (never a wild write).
#include <atomic>
#include <cstdint>
#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vfio_node {
namespace {

constexpr uint32_t kNetHdrSize = 12;          // struct virtio_net_hdr with VIRTIO_F_VERSION_1 (§5.1.6)
constexpr uint16_t kUsedFNoNotify = 1;        // VIRTQ_USED_F_NO_NOTIFY (§2.7.8)
constexpr uint32_t kNoSeq = 0xffffffffu;
constexpr uint8_t kNeedsCsum = 1;              // VIRTIO_NET_HDR_F_NEEDS_CSUM (§5.1.6)
constexpr uint32_t kHdrCsumStart = 6;          // virtio_net_hdr.csum_start (le16)
constexpr uint32_t kHdrCsumOffset = 8;         // virtio_net_hdr.csum_offset (le16)

template <typename T>
Napi::TypedArrayOf<T> Typed(Napi::Env env, Napi::Value v, const char* name, napi_typedarray_type type, const char* typeName) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a " + typeName + ", got " + Describe(v));
  }
  return v.As<Napi::TypedArrayOf<T>>();
}

// §2.7.10: notify when the device's event index lies in (old, new], modulo 2^16.
inline bool NeedEvent(uint16_t event, uint16_t newIdx, uint16_t oldIdx) {
  return static_cast<uint16_t>(newIdx - event - 1) < static_cast<uint16_t>(newIdx - oldIdx);
}

Napi::Value SplitTxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto ring = Typed<uint8_t>(env, Arg(info, 0), "ring", napi_uint8_array, "Uint8Array");
  auto state = Typed<uint32_t>(env, Arg(info, 1), "state", napi_uint32_array, "Uint32Array");
  auto freeList = Typed<uint16_t>(env, Arg(info, 2), "free", napi_uint16_array, "Uint16Array");
  auto pool = Typed<uint8_t>(env, Arg(info, 3), "pool", napi_uint8_array, "Uint8Array");
  auto params = Typed<uint32_t>(env, Arg(info, 4), "params", napi_uint32_array, "Uint32Array");
  Napi::Value barValue = Arg(info, 5);

  if (params.ElementLength() < 12) ThrowArg(env, kErrInvalidArg, "params must hold 12 values");
  const uint32_t* p = params.Data();
  const uint32_t size = p[0], usedOffset = p[1], bufferSize = p[2], count = p[3], frameLen = p[4];
  const uint32_t seqOffset = p[5], seq = p[6], eventIdx = p[7], doorbellOffset = p[8], vq = p[9];
  const uint32_t csumStart = p[10], csumOffset = p[11];
  // The checksum field must lie inside the frame (§5.1.6.2); checked first, on its own.
  if (csumStart != 0 && (csumStart > 0xffff || csumOffset > 0xffff || csumStart + csumOffset + 2 > frameLen)) {
    ThrowArg(env, kErrOutOfRange, "csumStart " + std::to_string(csumStart) + " + csumOffset " + std::to_string(csumOffset) + " leaves no checksum field inside a frame of " + std::to_string(frameLen));
  }

  // The ring: a power of 2 up to 32768 entries (§2.7), its three parts inside `ring`.
  if (size == 0 || size > 32768 || (size & (size - 1)) != 0) ThrowArg(env, kErrOutOfRange, "queue size must be a power of 2 from 1 to 32768, got " + std::to_string(size));
  const size_t ringBytes = ring.ByteLength();
  if (ringBytes == 0 || ring.Data() == nullptr) ThrowArg(env, kErrClosed, "the virtqueue memory was released");
  const size_t availOffset = 16 * static_cast<size_t>(size);
  const size_t availBytes = 6 + 2 * static_cast<size_t>(size);
  const size_t usedBytes = 6 + 8 * static_cast<size_t>(size);
  if (usedOffset % 4 != 0 || usedOffset < availOffset + availBytes || usedOffset + usedBytes > ringBytes) {
    ThrowArg(env, kErrOutOfRange, "the used ring at " + std::to_string(usedOffset) + " does not fit a split virtqueue of " + std::to_string(size) + " in " + std::to_string(ringBytes) + " bytes");
  }
  if ((reinterpret_cast<uintptr_t>(ring.Data()) & 15) != 0) ThrowArg(env, kErrMisaligned, "the virtqueue memory is not 16-byte aligned");

  if (state.ElementLength() < 4) ThrowArg(env, kErrInvalidArg, "state must hold [availIdx, publishedIdx, lastUsedIdx, freeCount]");
  if (freeList.ElementLength() < size) ThrowArg(env, kErrOutOfRange, "free holds " + std::to_string(freeList.ElementLength()) + " ids, the queue has " + std::to_string(size));
  uint32_t* st = state.Data();
  uint32_t freeCount = st[3];
  if (freeCount > size) ThrowArg(env, kErrOutOfRange, "freeCount " + std::to_string(freeCount) + " exceeds the queue size " + std::to_string(size));

  // The pool: size buffers, each holding the header and a frame of frameLen.
  if (bufferSize < kNetHdrSize || bufferSize % 4 != 0) ThrowArg(env, kErrOutOfRange, "bufferSize " + std::to_string(bufferSize) + " is too small or not a multiple of 4");
  if (pool.Data() == nullptr || pool.ByteLength() / bufferSize < size) ThrowArg(env, kErrOutOfRange, "pool holds fewer than " + std::to_string(size) + " buffers of " + std::to_string(bufferSize) + " bytes");
  if (frameLen == 0 || frameLen > bufferSize - kNetHdrSize) ThrowArg(env, kErrOutOfRange, "frameLen " + std::to_string(frameLen) + " does not fit a buffer of " + std::to_string(bufferSize) + " bytes after the header");
  if (seqOffset != kNoSeq && (seqOffset > frameLen || frameLen - seqOffset < 4)) ThrowArg(env, kErrOutOfRange, "seqOffset " + std::to_string(seqOffset) + " leaves no 4 bytes inside a frame of " + std::to_string(frameLen));
  if (count > size) ThrowArg(env, kErrOutOfRange, "count " + std::to_string(count) + " exceeds the queue size " + std::to_string(size));
  if (eventIdx > 1) ThrowArg(env, kErrOutOfRange, "eventIdx must be 0 or 1");
  if (vq > 0xffff) ThrowArg(env, kErrOutOfRange, "vq must fit 16 bits");

  // The doorbell: 16 bits inside the BAR mapping (§4.1.4.4), written with the queue index.
  if (!barValue.IsArrayBuffer()) ThrowArg(env, kErrInvalidArg, "bar must be an ArrayBuffer (Mapping.buffer), got " + Describe(barValue));
  Napi::ArrayBuffer bar = barValue.As<Napi::ArrayBuffer>();
  if (bar.ByteLength() == 0 || bar.Data() == nullptr) ThrowArg(env, kErrClosed, "the BAR mapping was unmapped");
  if (bar.ByteLength() < 2 || doorbellOffset > bar.ByteLength() - 2) ThrowArg(env, kErrOutOfRange, "doorbell offset " + std::to_string(doorbellOffset) + " is outside the BAR of " + std::to_string(bar.ByteLength()) + " bytes");
  if (doorbellOffset % 2 != 0) ThrowArg(env, kErrMisaligned, "doorbell offset " + std::to_string(doorbellOffset) + " is not 16-bit aligned");

  uint8_t* base = ring.Data();
  volatile uint32_t* desc32 = reinterpret_cast<volatile uint32_t*>(base);
  volatile uint16_t* desc16 = reinterpret_cast<volatile uint16_t*>(base);
  volatile uint16_t* avail16 = reinterpret_cast<volatile uint16_t*>(base + availOffset);
  volatile uint16_t* used16 = reinterpret_cast<volatile uint16_t*>(base + usedOffset);
  volatile const uint32_t* used32 = reinterpret_cast<volatile const uint32_t*>(base + usedOffset);
  uint16_t* freeIds = freeList.Data();
  uint8_t* buffers = pool.Data();
  const uint32_t mask = size - 1;

  // 1. Reclaim (§2.7.14): read used.idx once, then the entries below it.
  uint16_t lastUsed = static_cast<uint16_t>(st[2]);
  const uint16_t usedIdx = used16[1];
  std::atomic_thread_fence(std::memory_order_acquire);  // entries after the index (Linux's virtio_rmb)
  uint16_t pendingUsed = static_cast<uint16_t>(usedIdx - lastUsed);
  if (pendingUsed > size - freeCount) {
    ThrowArg(env, kErrOutOfRange, "the device reports " + std::to_string(pendingUsed) + " used buffers, only " + std::to_string(size - freeCount) + " were in flight");
  }
  for (uint16_t i = 0; i < pendingUsed; i++) {
    const uint32_t id = used32[1 + 2 * (lastUsed & mask)];  // virtq_used_elem.id
    if (id >= size) ThrowArg(env, kErrOutOfRange, "the device returned buffer id " + std::to_string(id) + " of a queue of " + std::to_string(size));
    freeIds[freeCount++] = static_cast<uint16_t>(id);
    lastUsed++;
  }

  // 2. Post up to count frames.
  const uint32_t k = count < freeCount ? count : freeCount;
  uint16_t availIdx = static_cast<uint16_t>(st[0]);
  const uint16_t oldIdx = static_cast<uint16_t>(st[1]);
  for (uint32_t i = 0; i < k; i++) {
    const uint16_t id = freeIds[--freeCount];
    if (id >= size) ThrowArg(env, kErrOutOfRange, "free list holds id " + std::to_string(id) + " of a queue of " + std::to_string(size));
    uint8_t* hdr = buffers + static_cast<size_t>(id) * bufferSize;
    if (csumStart != 0) {
      hdr[0] = kNeedsCsum;  // virtio_net_hdr.flags; gso_type and num_buffers stay 0
      hdr[kHdrCsumStart] = static_cast<uint8_t>(csumStart);
      hdr[kHdrCsumStart + 1] = static_cast<uint8_t>(csumStart >> 8);
      hdr[kHdrCsumOffset] = static_cast<uint8_t>(csumOffset);
      hdr[kHdrCsumOffset + 1] = static_cast<uint8_t>(csumOffset >> 8);
    } else {
      hdr[0] = 0;
    }
    if (seqOffset != kNoSeq) {
      uint8_t* s = hdr + kNetHdrSize + seqOffset;
      const uint32_t v = seq + i;
      s[0] = static_cast<uint8_t>(v >> 24);
      s[1] = static_cast<uint8_t>(v >> 16);
      s[2] = static_cast<uint8_t>(v >> 8);
      s[3] = static_cast<uint8_t>(v);
    }
    desc32[4 * id + 2] = kNetHdrSize + frameLen;  // virtq_desc.len
    desc16[8 * id + 6] = 0;                        // virtq_desc.flags: device-readable, no chain
    avail16[2 + (availIdx & mask)] = id;           // virtq_avail.ring[]
    availIdx++;
  }
  st[2] = lastUsed;
  st[3] = freeCount;
  st[0] = availIdx;
  if (availIdx == oldIdx) return Napi::Number::New(env, static_cast<double>(k));

  // 3. Publish: descriptors and ring entries before avail.idx (§2.7.13.3.1), and the idx
  // store before reading the device's wish (a full barrier: Linux's virtio_mb).
  std::atomic_thread_fence(std::memory_order_release);
  avail16[1] = availIdx;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  st[1] = availIdx;
  const uint16_t deviceWord = eventIdx ? used16[2 + 4 * size] /* avail_event */ : used16[0] /* used.flags */;
  const bool notify = eventIdx ? NeedEvent(deviceWord, availIdx, oldIdx) : (deviceWord & kUsedFNoNotify) == 0;
  if (notify) {
    *reinterpret_cast<volatile uint16_t*>(static_cast<uint8_t*>(bar.Data()) + doorbellOffset) = static_cast<uint16_t>(vq);
  }
  // What was decided, for the trace (drivers/virtio-net/src/queue-trace.ts): two stores per batch.
  if (state.ElementLength() >= 6) {
    st[4] = notify ? 1 : 0;
    st[5] = deviceWord;
  }
  return Napi::Number::New(env, static_cast<double>(k));
}

}  // namespace

void InitVirtioRing(Napi::Env env, Napi::Object exports) {
  exports.Set("virtioSplitTxBurst", Napi::Function::New<SplitTxBurst>(env, "virtioSplitTxBurst"));
}

}  // namespace vfio_node
