/// @file status.h
/// @brief Status: the result of an engine operation. Errors are values, never exceptions.
///
/// A Status is OK, or carries a code, the errno that best describes it (so the
/// filesystem can hand it to the kernel unchanged) and a message that names what
/// failed and why ("000003.log offset 4096: checksum mismatch").
///
/// Thread-safety: a Status is an immutable value; copies may be used from any thread.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

namespace alexfs {

/// The result of an engine operation: OK, or an error code, errno and message.
class Status {
 public:
  /// What kind of failure a Status reports.
  enum class Code {
    kOk = 0,
    kNotFound,         ///< the key (or file) does not exist
    kCorruption,       ///< data on disk failed a checksum or is malformed
    kIOError,          ///< a system call failed; errno() says which way
    kNoSpace,          ///< the disk is full; nothing acknowledged was lost
    kInvalidArgument,  ///< the caller's input is not acceptable (e.g. key too long)
    kBusy,             ///< another process holds the store (LOCK), or it is mounted
    kNotSupported,     ///< the operation does not exist for this object
  };

  Status() = default;  ///< OK

  /// OK.
  static Status OK() { return Status(); }
  /// The key (or file) does not exist.
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, ENOENT, std::move(msg)); }
  /// Data on disk failed a checksum or is malformed.
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, EIO, std::move(msg)); }
  /// The disk is full.
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, ENOSPC, std::move(msg)); }
  /// The caller's input is not acceptable.
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, EINVAL, std::move(msg));
  }
  /// Another process holds the store.
  static Status Busy(std::string msg) { return Status(Code::kBusy, EBUSY, std::move(msg)); }
  /// The operation does not exist for this object.
  static Status NotSupported(std::string msg) {
    return Status(Code::kNotSupported, ENOTSUP, std::move(msg));
  }
  /// An I/O error from errno `err`; ENOSPC and EDQUOT become kNoSpace. The message
  /// gets ": <strerror(err)>" appended.
  static Status FromErrno(int err, std::string_view what);
  /// Any code with an explicit errno (used by the filesystem for POSIX errors).
  static Status WithErrno(Code code, int err, std::string msg) {
    return Status(code, err, std::move(msg));
  }

  /// True if the operation succeeded.
  bool ok() const { return code_ == Code::kOk; }
  /// True for Code::kNotFound.
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  /// True for Code::kCorruption.
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  /// True for Code::kNoSpace.
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  /// True for Code::kBusy.
  bool IsBusy() const { return code_ == Code::kBusy; }
  /// The kind of failure (Code::kOk when OK).
  Code code() const { return code_; }
  /// 0 when OK; otherwise a positive errno.
  int errno_value() const { return errno_; }
  /// What failed and why; empty when OK.
  const std::string& message() const { return message_; }
  /// "OK" or "<code name>: <message>".
  std::string ToString() const;

 private:
  Status(Code code, int err, std::string msg) : code_(code), errno_(err), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

}  // namespace alexfs
