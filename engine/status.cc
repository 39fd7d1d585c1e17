#include "engine/status.h"

#include <cstring>

namespace alexfs {

Status Status::FromErrno(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status(Code::kNoSpace, ENOSPC, std::move(msg));
  return Status(Code::kIOError, err, std::move(msg));
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "NotFound"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kIOError: name = "IOError"; break;
    case Code::kNoSpace: name = "NoSpace"; break;
    case Code::kInvalidArgument: name = "InvalidArgument"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kNotSupported: name = "NotSupported"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace alexfs
