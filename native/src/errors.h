// Errors thrown by the native core. System call failures carry the errno name as `code`
// ('EBUSY'), `errno`, `syscall` and maybe `path`; argument errors carry an ERR_* code.
// Both are built by the factory registered with setErrorFactory (core's VfioError), or
// are a plain Error with the same fields before one is registered.
#pragma once

#include <napi.h>

#include <string>

namespace vfio_node {

// Argument error codes (the TypeScript layer maps them to its own).
constexpr const char* kErrInvalidArg = "ERR_INVALID_ARG";
constexpr const char* kErrOutOfRange = "ERR_OUT_OF_RANGE";
constexpr const char* kErrMisaligned = "ERR_MISALIGNED";
constexpr const char* kErrClosed = "ERR_CLOSED";
// A method or accessor called with a `this` that is not an object of its class.
constexpr const char* kErrInvalidReceiver = "ERR_INVALID_RECEIVER";

// 'ENOENT' for ENOENT: strerrorname_np (glibc >= 2.32), else a short table.
const char* ErrnoName(int err);
// "No such file or directory", thread-safe.
std::string ErrnoText(int err);

// Throws `<what> failed: <strerror>` with code = errno name. Never returns.
[[noreturn]] void ThrowSyscall(Napi::Env env, const char* syscall, int err, const std::string& what,
                               const char* path = nullptr);
// Same, with the whole message given (for messages that explain the errno).
[[noreturn]] void ThrowSyscallMessage(Napi::Env env, const char* syscall, int err,
                                      const std::string& message, const char* path = nullptr);
// Throws an argument error (code is one of the kErr* above). Never returns.
[[noreturn]] void ThrowArg(Napi::Env env, const char* code, const std::string& message);

}  // namespace vfio_node
