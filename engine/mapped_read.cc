#include "engine/mapped_read.h"

#include <setjmp.h>
#include <signal.h>

#include <cstring>
#include <mutex>

namespace alexfs::mapped_read_internal {
namespace {

thread_local sigjmp_buf* recovery_point = nullptr;
struct sigaction previous;

void OnSigbus(int sig, siginfo_t* info, void* context) {
  if (recovery_point != nullptr) siglongjmp(*recovery_point, 1);
  // Not ours: what was there before, or the default action.
  if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(sig, info, context);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
    return;
  }
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

void InstallOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous);
  });
}

}  // namespace

bool Run(void (*fn)(void*), void* arg) {
  InstallOnce();
  sigjmp_buf here;
  sigjmp_buf* const outer = recovery_point;
  // savemask 0: no system call per read. The handler runs with SA_NODEFER,
  // so SIGBUS is not blocked while it runs and the mask needs no restoring.
  if (sigsetjmp(here, 0) != 0) {
    recovery_point = outer;
    return false;
  }
  recovery_point = &here;
  fn(arg);
  recovery_point = outer;
  return true;
}

}  // namespace alexfs::mapped_read_internal
