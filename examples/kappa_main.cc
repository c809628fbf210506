// The `kappa` command: the library's command line with the example jobs registered. A
// user's own binary is the same three lines with its own jobs (see docs/api.md).
#include "examples/jobs.h"
#include "kappa/kappa.h"

int main(int argc, char** argv) {
  kappa::JobRegistry registry;
  kappa::examples::RegisterExampleJobs(&registry);
  return kappa::cli::Main(argc, argv, registry);
}
