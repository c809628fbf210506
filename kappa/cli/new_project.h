// `kappa new DIR`: writes a ready user project, the way `cargo new` and Flink's
// quickstart archetype do: a CMakeLists.txt that finds the installed Kappa, a job (a keyed,
// event-time tumbling-window count over JSON lines) registered in a main() that calls
// kappa::cli::Main, a unit test of the job through kappa/testing.h, sample input, a README
// with its build and test commands, and a .gitignore. The project builds and its test
// passes against an installed Kappa with no other step:
//
//   kappa new views && cd views
//   cmake -S . -B build && cmake --build build && ctest --test-dir build
//
// Called from the main thread by kappa::cli::Main; no state.
#ifndef KAPPA_CLI_NEW_PROJECT_H_
#define KAPPA_CLI_NEW_PROJECT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kappa::cli {

// The project name for a directory: its last path component, lower-cased, with every run
// of characters other than letters, digits, '_' and '-' turned into one '-', and "job-"
// in front if it would not start with a letter ("My Views/" -> "my-views").
std::string ProjectNameFor(const std::string& dir);

// Writes the project into `dir` (created if missing; an existing non-empty directory is
// refused) under `name` (empty: ProjectNameFor(dir)), which names the CMake project and
// the job binary. Returns the files written, relative to `dir`, in writing order.
// Errors are one line that says what to do.
absl::StatusOr<std::vector<std::string>> WriteNewProject(const std::string& dir, const std::string& name);

// What to type next, for a project written into `dir` under `name`: cd, build (with
// -DCMAKE_PREFIX_PATH when this binary's own install prefix is not a default one), test,
// run. Lines indented by two spaces, each ending in a newline.
std::string NewProjectNextSteps(const std::string& dir, const std::string& name);

}  // namespace kappa::cli

#endif  // KAPPA_CLI_NEW_PROJECT_H_
