#include "kappa/runtime/plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kappa::runtime {

absl::StatusOr<Plan> Plan::Make(const JobGraph& g, int default_parallelism, int max_parallelism) {
  const int n = static_cast<int>(g.nodes.size());
  Plan p;
  p.parallelism.assign(n, default_parallelism);
  p.in_edges.resize(n);
  p.out_edges.resize(n);
  for (int e = 0; e < static_cast<int>(g.edges.size()); ++e) {
    p.in_edges[g.edges[e].to].push_back(e);
    p.out_edges[g.edges[e].from].push_back(e);
  }
  for (int i = 0; i < n; ++i) {
    if (g.nodes[i].parallelism > 0) p.parallelism[i] = g.nodes[i].parallelism;
    if (p.parallelism[i] > max_parallelism) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", g.nodes[i].name, "' has parallelism ",
                                                     p.parallelism[i], " above the maximum ", max_parallelism));
    }
    if (!g.nodes[i].source && p.in_edges[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", g.nodes[i].name, "' has no input"));
    }
  }
  p.chained.assign(g.edges.size(), false);
  for (int e = 0; e < static_cast<int>(g.edges.size()); ++e) {
    const EdgeSpec& edge = g.edges[e];
    p.chained[e] = edge.partitioning == Partitioning::kForward &&
                   p.parallelism[edge.from] == p.parallelism[edge.to] && p.in_edges[edge.to].size() == 1 &&
                   !g.nodes[edge.to].source;
  }
  // Nodes are added to the graph after their inputs, so id order is topological.
  p.head.assign(n, -1);
  p.chain.resize(n);
  for (int i = 0; i < n; ++i) {
    int h = i;
    if (p.in_edges[i].size() == 1 && p.chained[p.in_edges[i][0]]) h = p.head[g.edges[p.in_edges[i][0]].from];
    p.head[i] = h;
    p.chain[h].push_back(i);
  }
  return p;
}

std::vector<int> Plan::heads() const {
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(head.size()); ++i) {
    if (is_head(i)) out.push_back(i);
  }
  return out;
}

std::string Plan::ChainName(const JobGraph& g, int h) const {
  std::vector<std::string> names;
  for (int i : chain[h]) names.push_back(g.nodes[i].name);
  return absl::StrJoin(names, " -> ");
}

std::string Plan::Describe(const JobGraph& g) const {
  std::string out;
  for (int h : heads()) absl::StrAppend(&out, "task x", parallelism[h], ": ", ChainName(g, h), "\n");
  return out;
}

}  // namespace kappa::runtime
