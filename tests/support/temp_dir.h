// TempDir: a fresh directory under `base` (default $TMPDIR, or /tmp; e.g.
// "/dev/shm" for a tmpfs reference), removed with everything in it when the
// object dies. Mounts found inside are detached first.
#pragma once

#include <string>
#include <vector>

namespace alexfs::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& base = "");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null; captures stdout
// and stderr together into *output if given. Returns the exit status, or
// 128+signal if it was killed, or -1 if it could not start.
int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

// Runs a shell command line with /bin/sh -c; same results as RunCommand.
int RunShell(const std::string& command_line, std::string* output = nullptr);

// Reads or writes a whole file; ReadFile returns false if it cannot be read.
bool ReadFile(const std::string& path, std::string* contents);
bool WriteFile(const std::string& path, const std::string& contents);

}  // namespace alexfs::testing
