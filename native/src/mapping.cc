// Mapping: an mmap (MAP_SHARED) of part of a device fd, i.e. a BAR or one sparse area of
// it. Registers are read and written through volatile pointers of exactly the access
// width, so each access is one load or store of that width: a 32-bit doorbell write is
// never split or merged with its neighbours. Offsets are bounds-checked and must be
// naturally aligned (an unaligned MMIO access may be split, or rejected by the device).
// Every mapping is guarded against SIGBUS (sigbus.h): once the device stops decoding its
// BAR (or a file mapping is read past its end), accesses read all ones and `gone` is true.
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "receiver.h"
#include "shared_memory.h"
#include "sigbus.h"

namespace vfio_node {
namespace {

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x3f6a1c52d0e84b97ULL, 0xb2e4716c9a5d0f38ULL};
  static constexpr const char* kClassName = "Mapping";
  static Mapping* Unwrap(Napi::Object self) { return UnwrapReceiver<Mapping>(self); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Mapping",
                       {
                           InstanceAccessor<&Mapping::Size>("size"),
                           InstanceAccessor<&Mapping::Buffer>("buffer"),
                           InstanceAccessor<&Mapping::Gone>("gone"),
                           InstanceMethod<&Mapping::Read<uint8_t>>("read8"),
                           InstanceMethod<&Mapping::Read<uint16_t>>("read16"),
                           InstanceMethod<&Mapping::Read<uint32_t>>("read32"),
                           InstanceMethod<&Mapping::Read<uint64_t>>("read64"),
                           InstanceMethod<&Mapping::Write<uint8_t>>("write8"),
                           InstanceMethod<&Mapping::Write<uint16_t>>("write16"),
                           InstanceMethod<&Mapping::Write<uint32_t>>("write32"),
                           InstanceMethod<&Mapping::Write<uint64_t>>("write64"),
                           InstanceMethod<&Mapping::Unmap>("unmap"),
                       });
  }

  // new Mapping(fd, offset, size): mmap(PROT_READ|PROT_WRITE, MAP_SHARED). offset must be
  // page-aligned (mmap's rule; VFIO region offsets are).
  explicit Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
    Napi::Env env = info.Env();
    TagReceiver<Mapping>(env, info.This().As<Napi::Object>());
    int fd = ToFd(env, Arg(info, 0), "fd");
    int64_t offset = ToOffset(env, Arg(info, 1), "offset");
    int64_t size = ToInt(env, Arg(info, 2), "size", 1, kMaxSafeInteger);
    if (offset % sysconf(_SC_PAGESIZE) != 0) {
      ThrowArg(env, kErrMisaligned, "offset " + std::to_string(offset) + " is not a multiple of the page size");
    }
    void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    if (addr == MAP_FAILED) {
      ThrowSyscall(env, "mmap", errno,
                   "mmap of " + std::to_string(size) + " bytes at offset " + std::to_string(offset) + " of fd " +
                       std::to_string(fd));
    }
    // Guarded from now until the pages go: the guard ends before RetireRange, so that the
    // handler never replaces a page of the reservation.
    int slot = GuardRange(addr, static_cast<size_t>(size));
    slot_ = slot;
    mem_ = new SharedMemory(addr, size, [addr, size, slot] {
      UnguardRange(slot);
      RetireRange(addr, static_cast<size_t>(size));
    });
    size_ = static_cast<size_t>(size);
    try {
      buffer_ = Napi::Persistent(mem_->NewArrayBuffer(env));
    } catch (...) {  // a throwing constructor never reaches ~Mapping
      mem_->Drop();
      mem_ = nullptr;
      throw;
    }
  }

  // Run by the GC (or at environment teardown): our share goes; the memory stays while
  // the ArrayBuffer is reachable.
  ~Mapping() override {
    if (mem_) mem_->Drop();
  }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(size_)); }
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    return buffer_.IsEmpty() ? info.Env().Undefined() : buffer_.Value();
  }
  // gone: an access faulted (the device stopped decoding the BAR, or a file mapping was
  // read past its end) and the mapping now reads all ones. Stays as it was after unmap().
  Napi::Value Gone(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), mem_ ? RangeGone(slot_) : gone_);
  }

  // The address of a T-sized register at info[0], after the checks.
  template <typename T>
  volatile T* At(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!mem_) ThrowArg(env, kErrClosed, "the mapping was unmapped");
    int64_t offset = ToInt(env, Arg(info, 0), "offset", 0, kMaxSafeInteger);
    if (size_ < sizeof(T) || static_cast<uint64_t>(offset) > size_ - sizeof(T)) {
      ThrowArg(env, kErrOutOfRange,
               std::to_string(sizeof(T) * 8) + "-bit access at offset " + std::to_string(offset) +
                   " is outside the mapping of " + std::to_string(size_) + " bytes");
    }
    if (offset % sizeof(T) != 0) {
      ThrowArg(env, kErrMisaligned,
               std::to_string(sizeof(T) * 8) + "-bit access at offset " + std::to_string(offset) +
                   " is not naturally aligned");
    }
    return reinterpret_cast<volatile T*>(static_cast<uint8_t*>(mem_->addr()) + offset);
  }

  // readN(offset): one load of N bits.
  template <typename T>
  Napi::Value Read(const Napi::CallbackInfo& info) {
    T value = *At<T>(info);
    if constexpr (sizeof(T) == 8) return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(value));
    else return Napi::Number::New(info.Env(), value);
  }

  // writeN(offset, value): one store of N bits. Negative values are taken as two's
  // complement (so `x | 0` style int32 results can be written).
  template <typename T>
  void Write(const Napi::CallbackInfo& info) {
    volatile T* reg = At<T>(info);
    T value = static_cast<T>(ToBits(info.Env(), Arg(info, 1), "value", sizeof(T) * 8));
    *reg = value;
  }

  // unmap(): detach the ArrayBuffer (stale views then throw instead of faulting), then
  // unmap the BAR, keeping its addresses reserved (RetireRange). Idempotent.
  void Unmap(const Napi::CallbackInfo& info) {
    if (!mem_) return;
    Napi::Env env = info.Env();
    NAPI_THROW_IF_FAILED_VOID(env, napi_detach_arraybuffer(env, buffer_.Value()));
    gone_ = RangeGone(slot_);  // before FreeNow frees the slot for another range
    mem_->FreeNow();
    mem_->Drop();
    mem_ = nullptr;
  }

  SharedMemory* mem_ = nullptr;
  size_t size_ = 0;
  int slot_ = -1;  // the SIGBUS guard's slot (-1: none was free), read while mem_ is set
  bool gone_ = false;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) { exports.Set("Mapping", Mapping::Define(env)); }

}  // namespace vfio_node
