// Status: the result of an engine operation. Errors are values, never exceptions.
//
// A Status is OK, or carries a code, the errno that best describes it (so the
// filesystem can hand it to the kernel unchanged) and a message that names what
// failed and why ("000003.log offset 4096: checksum mismatch").
//
// Thread-safety: a Status is an immutable value; copies may be used from any thread.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

namespace alexfs {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,         // the key (or file) does not exist
    kCorruption,       // data on disk failed a checksum or is malformed
    kIOError,          // a system call failed; errno() says which way
    kNoSpace,          // the disk is full; nothing acknowledged was lost
    kInvalidArgument,  // the caller's input is not acceptable (e.g. key too long)
    kBusy,             // another process holds the store (LOCK), or it is mounted
    kNotSupported,     // the operation does not exist for this object
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, ENOENT, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, EIO, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, ENOSPC, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, EINVAL, std::move(msg));
  }
  static Status Busy(std::string msg) { return Status(Code::kBusy, EBUSY, std::move(msg)); }
  static Status NotSupported(std::string msg) {
    return Status(Code::kNotSupported, ENOTSUP, std::move(msg));
  }
  // An I/O error from errno `err`; ENOSPC and EDQUOT become kNoSpace. The message
  // gets ": <strerror(err)>" appended.
  static Status FromErrno(int err, std::string_view what);
  // Any code with an explicit errno (used by the filesystem for POSIX errors).
  static Status WithErrno(Code code, int err, std::string msg) {
    return Status(code, err, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  Code code() const { return code_; }
  // 0 when OK; otherwise a positive errno.
  int errno_value() const { return errno_; }
  const std::string& message() const { return message_; }
  // "OK" or "<code name>: <message>".
  std::string ToString() const;

 private:
  Status(Code code, int err, std::string msg) : code_(code), errno_(err), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

}  // namespace alexfs
