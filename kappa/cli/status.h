// `kappa status URL`: the dashboard's picture of a running job in the terminal, one
// screen: job, state and uptime; per chain its parallelism, records/s and busy or
// backpressured share; per source partition position, end, lag and watermark; the last
// checkpoint, end-to-end latency, the catch-up of a replay and the last errors.
//
// Reads URL/api/job (URL is what the job printed: `kappa: dashboard at http://HOST:PORT/`;
// HOST:PORT alone works too) with cpp-httplib's client.
#ifndef KAPPA_CLI_STATUS_H_
#define KAPPA_CLI_STATUS_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "kappa/app/json_tree.h"

namespace kappa::cli {

// Prints the job at `url` on `out`: 0; a clear one-line error on `err` when it cannot be
// reached or does not answer like a Kappa job: 1.
int RunStatus(const std::string& url, std::ostream& out, std::ostream& err);

// The screen for one /api/job document (job_json.h), `width` columns wide at most.
std::string StatusText(const app::JsonNode& job, const std::string& url, int width = 100);

}  // namespace kappa::cli

#endif  // KAPPA_CLI_STATUS_H_
