// Error construction and setErrorFactory(factory).
#include "errors.h"

#include <errno.h>
#include <string.h>

#include "addon.h"

namespace vfio_node {

const char* ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
  return "EUNKNOWN";
#else
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOTSUP: return "ENOTSUP";
    default: return "EUNKNOWN";
  }
#endif
}

std::string ErrnoText(int err) {
  char buf[128];
  // GNU strerror_r returns a pointer to the text (maybe not buf).
  return strerror_r(err, buf, sizeof buf);
}

namespace {

struct ErrorInit {
  const char* code;
  std::string message;
  const char* syscall = nullptr;
  int err = 0;
  const char* path = nullptr;
};

[[noreturn]] void Throw(Napi::Env env, const ErrorInit& init) {
  Napi::Object fields = Napi::Object::New(env);
  fields.Set("code", init.code);
  fields.Set("message", init.message);
  if (init.syscall) fields.Set("syscall", init.syscall);
  if (init.err) fields.Set("errno", init.err);
  if (init.path) fields.Set("path", init.path);

  AddonData* data = GetAddonData(env);
  if (data && !data->errorFactory.IsEmpty()) {
    // The factory's own exception, if it throws, propagates instead.
    Napi::Value error = data->errorFactory.Call({fields});
    throw Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, init.message);
  Napi::Object obj = error.Value();
  Napi::Array keys = fields.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    Napi::Value key = keys.Get(i);
    if (key.As<Napi::String>().Utf8Value() != "message") obj.Set(key, fields.Get(key));
  }
  throw error;
}

// setErrorFactory(factory): remembered per environment (main thread, each worker).
void SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    ThrowArg(env, kErrInvalidArg, "setErrorFactory: factory must be a function");
  }
  GetAddonData(env)->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
}

}  // namespace

void ThrowSyscall(Napi::Env env, const char* syscall, int err, const std::string& what,
                  const char* path) {
  ThrowSyscallMessage(env, syscall, err, what + " failed: " + ErrnoText(err), path);
}

void ThrowSyscallMessage(Napi::Env env, const char* syscall, int err, const std::string& message,
                         const char* path) {
  Throw(env, ErrorInit{ErrnoName(err), message, syscall, err, path});
}

void ThrowArg(Napi::Env env, const char* code, const std::string& message) {
  Throw(env, ErrorInit{code, message});
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
}

}  // namespace vfio_node
