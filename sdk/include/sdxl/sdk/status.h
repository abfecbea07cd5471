#pragma once
/// @file status.h
/// Errors cross the plugin boundary as values: Status and Result<T>.
/// @since 1.0
///
/// Thread rules: plain values; copy freely between threads.
/// Ownership: a Result owns its value.

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sdxl::sdk {
inline namespace v1 {

enum class StatusCode {
  ok = 0,
  invalid_argument,  ///< the caller passed something wrong (bad option, bad shape)
  not_found,         ///< a file, key or feature does not exist
  unsupported,       ///< this plugin or feature does not do that
  corrupt_data,      ///< a file's contents are malformed
  out_of_memory,     ///< a memory lease was refused
  cancelled,         ///< the job was cancelled between steps
  internal,          ///< a bug or an unexpected exception inside a plugin
};

/// Short lower-case name of a code ("invalid_argument"), for messages and JSON.
inline const char* to_string(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid_argument";
    case StatusCode::not_found: return "not_found";
    case StatusCode::unsupported: return "unsupported";
    case StatusCode::corrupt_data: return "corrupt_data";
    case StatusCode::out_of_memory: return "out_of_memory";
    case StatusCode::cancelled: return "cancelled";
    case StatusCode::internal: return "internal";
  }
  return "unknown";
}

/// A code plus a human-readable message that names the file, key or option concerned.
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::not_found, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::unsupported, std::move(m)}; }
inline Status corrupt_data(std::string m) { return {StatusCode::corrupt_data, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::internal, std::move(m)}; }

/// Either a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = internal_error("Result built from an ok Status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

/// Runs `fn` and turns any exception it throws into a Status, so no exception leaves a plugin.
/// `fn` returns Status or Result<T>. Use it at the top of every virtual a plugin implements.
template <typename Fn>
auto guard(std::string_view where, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return internal_error(std::string(where) + ": " + e.what());
  } catch (...) {
    return internal_error(std::string(where) + ": unknown exception");
  }
}

}  // namespace v1
}  // namespace sdxl::sdk
