// The plan of a run: which operators fuse into one task (chains) and how many parallel
// instances each has, computed from the job graph and the run's options before anything
// is created. The executor wires tasks from it; `kappa run --plan` prints it.
//
// Chaining rule: a node joins its producer's task when the edge between them is a
// forward edge, both have the same parallelism and the node has no other input (and is
// not a source). Every other edge (hash, rebalance, broadcast, a change of parallelism, a
// second input) crosses tasks through channels.
//
//   absl::StatusOr<runtime::Plan> plan = runtime::Plan::Make(graph, options);
//   for (int h : plan->heads()) ... plan->chain[h] ... plan->parallelism[h] ...
//
// A plain value: built and read on the caller's thread.
#ifndef KAPPA_RUNTIME_PLAN_H_
#define KAPPA_RUNTIME_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/runtime/graph.h"

namespace kappa::runtime {

struct Plan {
  // Every operator gets `default_parallelism` instances unless its node sets its own; none
  // may exceed `max_parallelism` (the key-group count).
  static absl::StatusOr<Plan> Make(const JobGraph& graph, int default_parallelism, int max_parallelism);

  // The chain heads (one task per instance of each), in topological order.
  std::vector<int> heads() const;
  bool is_head(int node) const { return head[node] == node; }
  // "a -> b -> c": the names of the nodes of head h's chain.
  std::string ChainName(const JobGraph& graph, int h) const;
  // One line per chain: "task xP: a -> b -> c".
  std::string Describe(const JobGraph& graph) const;

  std::vector<int> parallelism;           // per node
  std::vector<bool> chained;              // per edge: fused into the producer's task
  std::vector<int> head;                  // per node: the head of its chain
  std::vector<std::vector<int>> chain;    // per head: its nodes in topological order
  std::vector<std::vector<int>> in_edges;   // per node: edge indices into it
  std::vector<std::vector<int>> out_edges;  // per node: edge indices out of it
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_PLAN_H_
