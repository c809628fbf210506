// Runs the real `kappa` binary as a subprocess for the integration tests: in the
// foreground with its output captured (RunKappa), or in the background (StartKappa, then
// kill it and WaitKappa). The binary's path comes from the KAPPA_BINARY definition.
#ifndef KAPPA_TESTS_KAPPA_PROCESS_H_
#define KAPPA_TESTS_KAPPA_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace kappa::testing {

struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Every thread's stack of the live process `pid` (gdb in batch mode), for the report of
// a run that hung; "" when gdb is not installed.
inline std::string StacksOf(pid_t pid) {
  if (access("/usr/bin/gdb", X_OK) != 0) return "";
  std::string cmd = "/usr/bin/gdb -p " + std::to_string(pid) +
                    " -batch -ex 'thread apply all bt' 2>/dev/null | grep -E '^(Thread|#)'";
  std::string out = "\n--- stacks of the hung process ---\n";
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char line[4096];
    while (fgets(line, sizeof line, f) != nullptr) out += line;
    pclose(f);
  }
  return out;
}

// Runs KAPPA_BINARY with `args`, capturing stdout and stderr (or, if `stderr_file` is
// given, sending stderr to that file the way `2> FILE` does). A run that takes longer than
// `timeout` is killed and fails the test.
inline RunResult RunKappa(const std::vector<std::string>& args, const std::string& stderr_file = "",
                   std::chrono::seconds timeout = std::chrono::seconds(60)) {
  RunResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << strerror(errno);
    return result;
  }
  std::vector<char*> argv;
  std::string binary = KAPPA_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return result;
  }
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    if (stderr_file.empty()) {
      dup2(err_pipe[1], 2);
    } else {
      int fd = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(126);
      dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  std::string stacks;  // of a run that timed out
  char buf[1 << 16];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      stacks = StacksOf(pid);
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  EXPECT_FALSE(timed_out) << "kappa " << absl::StrJoin(args, " ") << " ran longer than " << timeout.count()
                          << " s" << stacks;
  return result;
}

// Starts the program `binary` (a job binary of its own) in the background with stdout and
// stderr appended to `log`.
inline pid_t StartProgram(std::string binary, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv{binary.data()};
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Starts kappa in the background with stdout and stderr appended to `log`.
inline pid_t StartKappa(const std::vector<std::string>& args, const std::string& log) {
  return StartProgram(KAPPA_BINARY, args, log);
}

// Waits for a StartKappa process: its exit code, or 128 + signal.
inline int WaitKappa(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// The whole of a file (a run's log); "" when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every line of the part files a `file:DIR/` sink published, sorted (a multiset): hidden
// in-progress files are not output. Empty when DIR does not exist.
inline std::vector<std::string> OutputLines(const std::string& dir) {
  std::vector<std::string> lines;
  if (!std::filesystem::exists(dir)) return lines;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("part-", 0) != 0) continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The checkpoints of a checkpoint directory that completed (have a MANIFEST), oldest
// first. Empty when DIR does not exist.
inline std::vector<std::string> CompleteCheckpoints(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (std::filesystem::exists(entry.path() / "MANIFEST")) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_KAPPA_PROCESS_H_
