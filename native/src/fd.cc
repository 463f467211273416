// File descriptors: open(2) with O_CLOEXEC, close(2), whole-buffer pread/pwrite, and
// single-access preadWidth/pwriteWidth for PCI config space (VFIO region 7) and regions
// that cannot be mmapped, where the access width is what the device sees.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vfio_node {
namespace {

std::string OnFd(const char* op, int fd) { return std::string(op) + " on fd " + std::to_string(fd); }

// open(path, flags): O_CLOEXEC is always added; O_CREAT gets mode 0600.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ToPath(env, Arg(info, 0), "path");
  int flags = static_cast<int>(ToInt(env, Arg(info, 1), "flags", 0, INT32_MAX));
  int fd;
  do fd = open(path.c_str(), flags | O_CLOEXEC, 0600);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowSyscall(env, "open", errno, "open " + path, path.c_str());
  return Napi::Number::New(env, fd);
}

// close(fd). EINTR still closes the fd on Linux, so it is not retried nor reported.
void Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "fd");
  if (close(fd) < 0 && errno != EINTR) ThrowSyscall(env, "close", errno, "close of fd " + std::to_string(fd));
}

// The bytes of a Uint8Array (or any ArrayBufferView).
void ViewBytes(Napi::Env env, Napi::Value v, uint8_t** data, size_t* length) {
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    *data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    *length = ta.ByteLength();
  } else if (v.IsDataView()) {
    Napi::DataView dv = v.As<Napi::DataView>();
    *data = static_cast<uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    *length = dv.ByteLength();
  } else {
    ThrowArg(env, kErrInvalidArg, "buffer must be a Uint8Array (got " + Describe(v) + ")");
  }
}

// pread/pwrite of the whole buffer at offset, looping over short transfers; stops early
// only at end of file (pread returning 0).
template <bool kWrite>
Napi::Value Transfer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* syscall = kWrite ? "pwrite" : "pread";
  int fd = ToFd(env, Arg(info, 0), "fd");
  uint8_t* data = nullptr;
  size_t length = 0;
  ViewBytes(env, Arg(info, 1), &data, &length);
  int64_t offset = ToOffset(env, Arg(info, 2), "offset");
  if (static_cast<uint64_t>(INT64_MAX - offset) < length) {
    ThrowArg(env, kErrOutOfRange, "offset + buffer length overflows a file offset");
  }
  size_t done = 0;
  while (done < length) {
    ssize_t n = kWrite ? pwrite(fd, data + done, length - done, offset + done)
                       : pread(fd, data + done, length - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowSyscall(env, syscall, errno, OnFd(syscall, fd) + " at offset " + std::to_string(offset + done));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

int ToWidth(Napi::Env env, Napi::Value v) {
  int width = static_cast<int>(ToInt(env, v, "width", 1, 8));
  if (width != 1 && width != 2 && width != 4 && width != 8) {
    ThrowArg(env, kErrOutOfRange, "width must be 1, 2, 4 or 8 (got " + std::to_string(width) + ")");
  }
  return width;
}

// preadWidth(fd, offset, width): one pread(2) of exactly width bytes, little-endian.
Napi::Value PreadWidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "fd");
  int64_t offset = ToOffset(env, Arg(info, 1), "offset");
  int width = ToWidth(env, Arg(info, 2));
  uint8_t bytes[8] = {};
  ssize_t n;
  do n = pread(fd, bytes, width, offset);
  while (n < 0 && errno == EINTR);
  std::string what = OnFd("pread", fd) + " of " + std::to_string(width) + " bytes at offset " + std::to_string(offset);
  if (n < 0) ThrowSyscall(env, "pread", errno, what);
  if (n != width) ThrowSyscallMessage(env, "pread", EIO, what + " was short (" + std::to_string(n) + " bytes)");
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; i--) value = (value << 8) | bytes[i];
  return Napi::BigInt::New(env, value);
}

// pwriteWidth(fd, offset, width, value): one pwrite(2) of exactly width bytes, little-endian.
void PwriteWidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "fd");
  int64_t offset = ToOffset(env, Arg(info, 1), "offset");
  int width = ToWidth(env, Arg(info, 2));
  uint64_t value = ToBits(env, Arg(info, 3), "value", width * 8);
  uint8_t bytes[8];
  for (int i = 0; i < width; i++) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  ssize_t n;
  do n = pwrite(fd, bytes, width, offset);
  while (n < 0 && errno == EINTR);
  std::string what = OnFd("pwrite", fd) + " of " + std::to_string(width) + " bytes at offset " + std::to_string(offset);
  if (n < 0) ThrowSyscall(env, "pwrite", errno, what);
  if (n != width) ThrowSyscallMessage(env, "pwrite", EIO, what + " was short (" + std::to_string(n) + " bytes)");
}

}  // namespace

void InitFd(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New<Open>(env, "open"));
  exports.Set("close", Napi::Function::New<Close>(env, "close"));
  exports.Set("pread", Napi::Function::New<Transfer<false>>(env, "pread"));
  exports.Set("pwrite", Napi::Function::New<Transfer<true>>(env, "pwrite"));
  exports.Set("preadWidth", Napi::Function::New<PreadWidth>(env, "preadWidth"));
  exports.Set("pwriteWidth", Napi::Function::New<PwriteWidth>(env, "pwriteWidth"));
}

}  // namespace vfio_node
