// The whole `kappa` command line, for any binary that registers jobs.
//
// A user's job binary is a registry and one call; it then has every subcommand, flag and
// error message of `kappa` (jobs, run, replay, savepoint, diff, broker, demo, bench, new):
//
//   int main(int argc, char** argv) {
//     kappa::JobRegistry registry;
//     registry.Register({"clicks-per-page", "clicks per page per minute", BuildClicksPerPage});
//     return kappa::cli::Main(argc, argv, registry);
//   }
//
// Main parses the arguments, runs what they ask for and returns the process exit code:
// 0 success, 1 the job failed (diff: the outputs differ), 2 bad usage, 130 stopped by Ctrl-C.
// It installs SIGINT/SIGTERM handlers for the run; call it once, from the main thread.
#ifndef KAPPA_CLI_CLI_H_
#define KAPPA_CLI_CLI_H_

#include "kappa/app/job_registry.h"

namespace kappa::cli {

int Main(int argc, char** argv, const JobRegistry& registry);

}  // namespace kappa::cli

#endif  // KAPPA_CLI_CLI_H_
