// Argument checking (see args.h).
#include "args.h"

#include <cmath>
#include <cstdio>

#include "errors.h"

namespace vfio_node {

std::string Describe(Napi::Value v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: {
      char buf[40];
      snprintf(buf, sizeof buf, "%.17g", v.As<Napi::Number>().DoubleValue());
      return std::string("number ") + buf;
    }
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return v.IsArray() ? "array" : "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint " + v.ToString().Utf8Value() + "n";
    default: return "unknown";
  }
}

int64_t ToInt(Napi::Env env, Napi::Value v, const char* name, int64_t min, int64_t max) {
  if (!v.IsNumber()) ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a number (got " + Describe(v) + ")");
  double d = v.As<Napi::Number>().DoubleValue();
  // The range check on the double comes first, so the cast below cannot overflow.
  if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    ThrowArg(env, kErrOutOfRange,
             std::string(name) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                 "] (got " + Describe(v) + ")");
  }
  return static_cast<int64_t>(d);
}

namespace {

// A bigint as sign and magnitude; false when it needs more than 64 bits.
bool BigIntParts(Napi::Env env, Napi::Value v, bool* negative, uint64_t* magnitude) {
  size_t words = 0;
  int sign = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_value_bigint_words(env, v, nullptr, &words, nullptr), false);
  if (words > 1) return false;
  uint64_t word = 0;
  words = 1;
  NAPI_THROW_IF_FAILED(env, napi_get_value_bigint_words(env, v, &sign, &words, &word), false);
  *negative = sign != 0 && word != 0;
  *magnitude = words == 0 ? 0 : word;
  return true;
}

}  // namespace

uint64_t ToU64(Napi::Env env, Napi::Value v, const char* name, uint64_t max) {
  if (v.IsNumber()) {
    int64_t limit = max > static_cast<uint64_t>(kMaxSafeInteger) ? kMaxSafeInteger : static_cast<int64_t>(max);
    return static_cast<uint64_t>(ToInt(env, v, name, 0, limit));
  }
  if (!v.IsBigInt()) {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a bigint or a number (got " + Describe(v) + ")");
  }
  bool negative = false;
  uint64_t magnitude = 0;
  if (!BigIntParts(env, v, &negative, &magnitude) || negative || magnitude > max) {
    ThrowArg(env, kErrOutOfRange,
             std::string(name) + " must be in [0, " + std::to_string(max) + "] (got " + Describe(v) + ")");
  }
  return magnitude;
}

uint64_t ToBits(Napi::Env env, Napi::Value v, const char* name, unsigned bits) {
  const uint64_t umax = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
  const uint64_t nmax = uint64_t{1} << (bits - 1);  // largest magnitude of a negative value
  bool negative = false;
  uint64_t magnitude = 0;
  bool ok = true;
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    ok = std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= static_cast<double>(kMaxSafeInteger);
    if (ok) {
      negative = d < 0;
      magnitude = static_cast<uint64_t>(std::fabs(d));
    }
  } else if (v.IsBigInt()) {
    ok = BigIntParts(env, v, &negative, &magnitude);
  } else {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a number or a bigint (got " + Describe(v) + ")");
  }
  if (!ok || (negative ? magnitude > nmax : magnitude > umax)) {
    ThrowArg(env, kErrOutOfRange,
             std::string(name) + " does not fit in " + std::to_string(bits) + " bits (got " + Describe(v) + ")");
  }
  uint64_t value = negative ? (~magnitude + 1) : magnitude;
  return value & umax;
}

std::string ToPath(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsString()) ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a string (got " + Describe(v) + ")");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) {
    ThrowArg(env, kErrInvalidArg, std::string(name) + " must be a non-empty string without NUL characters");
  }
  return s;
}

int ToFd(Napi::Env env, Napi::Value v, const char* name) {
  return static_cast<int>(ToInt(env, v, name, 0, INT32_MAX));
}

}  // namespace vfio_node
