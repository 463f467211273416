// Argument checking shared by every entry point. Nothing is coerced: a value of the
// wrong type throws ERR_INVALID_ARG, a number that is not an integer or lies outside
// its range throws ERR_OUT_OF_RANGE, and the message names the argument and the value.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace vfio_node {

constexpr int64_t kMaxSafeInteger = 9007199254740991;  // Number.MAX_SAFE_INTEGER, 2^53 - 1

// A Number that is an integer in [min, max] (|min|, |max| <= 2^53 - 1).
int64_t ToInt(Napi::Env env, Napi::Value v, const char* name, int64_t min, int64_t max);
// A bigint or an integer Number in [0, max].
uint64_t ToU64(Napi::Env env, Napi::Value v, const char* name, uint64_t max = UINT64_MAX);
// A bigint or integer Number in [-2^(bits-1), 2^bits - 1], returned as its low `bits`
// bits (two's complement), so that both 0xffffffff and -1 write all ones.
uint64_t ToBits(Napi::Env env, Napi::Value v, const char* name, unsigned bits);
// A string without NUL characters.
std::string ToPath(Napi::Env env, Napi::Value v, const char* name);
// A file descriptor: an integer Number in [0, INT32_MAX].
int ToFd(Napi::Env env, Napi::Value v, const char* name);
// A file offset: bigint or Number in [0, INT64_MAX].
inline int64_t ToOffset(Napi::Env env, Napi::Value v, const char* name) {
  return static_cast<int64_t>(ToU64(env, v, name, INT64_MAX));
}

// info[i], or undefined when fewer arguments were passed (checked like any other value).
inline Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

// "number 1.5", "string", "bigint -1n": what the caller passed, for messages.
std::string Describe(Napi::Value v);

}  // namespace vfio_node
