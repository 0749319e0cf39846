// Status and Result<T>: how library code reports failure without exceptions.
//
// A Status is either ok or carries a code and a message that names what was
// being done, the input involved, and a hint. Both types are [[nodiscard]]:
// dropping one is an explicit, greppable act (`(void)` or `.ignore()`).
// Values are plain data; they are safe to copy and move between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace troupe {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (a config, a flag, a file)
    kNotFound,         // a named thing does not exist
    kCorruption,       // stored or received bytes failed verification
    kIoError,          // the operating system or a library said no
    kUnavailable,      // a peer or device is not there (no GPU, dead endpoint)
    kOutOfRange,       // a value outside what is allowed
    kInternal,         // a broken invariant: a bug in troupe
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid_argument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status not_found(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status io_error(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status out_of_range(std::string msg) { return {Code::kOutOfRange, std::move(msg)}; }
  static Status internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const {
    return is_ok() ? std::string("ok") : std::string(code_name(code_)) + ": " + message_;
  }
  // Prefixes the message with what the caller was doing: "loading x: <inner>".
  Status with_context(std::string_view what) const {
    if (is_ok()) return *this;
    return Status(code_, std::string(what) + ": " + message_);
  }
  void ignore() const {}

  static const char* code_name(Code c) {
    switch (c) {
      case Code::kOk: return "ok";
      case Code::kInvalidArgument: return "invalid argument";
      case Code::kNotFound: return "not found";
      case Code::kCorruption: return "corruption";
      case Code::kIoError: return "io error";
      case Code::kUnavailable: return "unavailable";
      case Code::kOutOfRange: return "out of range";
      case Code::kInternal: return "internal";
    }
    return "unknown";
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds a T or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).is_ok() && "Result built from an ok Status has no value");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  // REQUIRES: is_ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  // The error; Status::ok() when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace troupe

// Returns early from a function returning Status or Result<U> when `expr` is not ok.
#define TROUPE_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    ::troupe::Status troupe_status_ = (expr);          \
    if (!troupe_status_.is_ok()) return troupe_status_; \
  } while (0)
