// Whether this build skips every sync: an internal header, never installed.
//
// Built with the CMake option ALEXFS_TEST_DROP_SYNCS, the POSIX Env
// (engine/env_posix.cc) skips every fdatasync/fsync, of files and directories,
// and reports success, and the fault-injection Env of the tests records no
// sync. That build exists only to prove that the power-loss tests notice
// missing syncs (CI's nosync job requires them to fail there); never ship it.
#pragma once

namespace alexfs {

#ifdef ALEXFS_TEST_DROP_SYNCS
inline constexpr bool kSyncsDropped = true;
#else
inline constexpr bool kSyncsDropped = false;
#endif

}  // namespace alexfs
