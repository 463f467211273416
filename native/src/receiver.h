// The receiver check of the wrapped classes (Mapping, DmaBuffer, EventfdWatcher,
// NvmeQueue). napi_unwrap gives back the native pointer of any wrapped object whatever
// its class, so `Object.getOwnPropertyDescriptor(DmaBuffer.prototype, 'size').get
// .call(aMapping)` would read a Mapping as a DmaBuffer. Each class tags its objects in its
// constructor (napi_type_tag_object, N-API 8) and declares a static Unwrap that checks the
// tag: node-addon-api calls T::Unwrap before every method and accessor, and the derived
// class's Unwrap hides ObjectWrap<T>::Unwrap. A foreign or plain `this` throws
// ERR_INVALID_RECEIVER.
#pragma once

#include <napi.h>

#include <string>

#include "args.h"
#include "errors.h"

namespace vfio_node {

// Whether v is an object carrying `tag` (never throws; primitives are not).
inline bool HasTypeTag(Napi::Env env, Napi::Value v, const napi_type_tag& tag) {
  // Only objects: napi_check_object_type_tag would coerce a primitive, and undefined
  // would leave a pending TypeError behind.
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || (type != napi_object && type != napi_function)) return false;
  bool tagged = false;
  return napi_check_object_type_tag(env, v, &tag, &tagged) == napi_ok && tagged;
}

// Marks a new object as one of T (first thing in T's constructor).
template <typename T>
void TagReceiver(Napi::Env env, Napi::Object self) {
  NAPI_THROW_IF_FAILED_VOID(env, napi_type_tag_object(env, self, &T::kTypeTag));
}

// T's native object behind `self`, or throws ERR_INVALID_RECEIVER.
template <typename T>
T* UnwrapReceiver(Napi::Object self) {
  Napi::Env env = self.Env();
  if (!HasTypeTag(env, self, T::kTypeTag)) {
    ThrowArg(env, kErrInvalidReceiver,
             std::string("a ") + T::kClassName + " method or accessor was called on " + Describe(self) + ", which is not a " +
                 T::kClassName);
  }
  return Napi::ObjectWrap<T>::Unwrap(self);
}

}  // namespace vfio_node
