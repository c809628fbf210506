// The job graph: a DAG of operator nodes and the edges between them, type-erased.
//
// The typed API (api.h) builds it; the executor turns it into tasks. Everything that
// needs to know a record type — creating the operator, routing records across an edge,
// copying to several consumers — is captured as a factory when the typed API adds the
// node or edge, so the executor itself is not a template.
#ifndef KAPPA_RUNTIME_GRAPH_H_
#define KAPPA_RUNTIME_GRAPH_H_

#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/trace.h"

namespace kappa {
struct ExactlyOnceContext;  // sink.h
}  // namespace kappa

namespace kappa::runtime {

struct PortSpec {
  std::string name;  // "" for the main output, else the side/split output's name
  std::type_index type = typeid(void);
  // Builds an output that copies each record to all targets (all of this port's type).
  std::function<std::unique_ptr<OutputNode>(const std::vector<OutputPtr>&)> make_fanout;
};

struct NodeSpec {
  int id = 0;
  std::string name;
  std::string uid;           // names the operator's state; defaults to `name`
  int parallelism = 0;       // 0: the job's default
  bool keyed = false;        // needs a keyed state backend
  bool source = false;
  std::vector<PortSpec> ports;
  std::function<std::unique_ptr<OperatorBase>(const NodeSpec&, TaskMetrics*)> make_operator;
  // Sinks only: the connector's exactly-once hooks (see SinkConnector).
  std::function<absl::Status(const ExactlyOnceContext&)> enable_exactly_once;
  std::function<absl::Status(const std::vector<checkpoint::PendingFile>&, int64_t restored)> recover;
  std::function<std::vector<checkpoint::PendingFile>()> take_final_pending;
  std::function<absl::Status(const std::vector<checkpoint::PendingFile>&)> commit;
};

struct EdgeSpec {
  int from = 0;
  int from_port = 0;
  int to = 0;
  int to_input = 0;
  Partitioning partitioning = Partitioning::kForward;
  // Builds one producer instance's writer onto the consumer channels.
  // `name` names the edge in error reports (a throwing key function).
  std::function<std::unique_ptr<OutputNode>(Partitioning, std::vector<OutputChannel*>, int max_parallelism,
                                            int subtask, TaskMetrics*, ErrorSink*, const std::string& name)>
      make_writer;
  // Tracing only: a tap on this edge in front of `next` (the consumer's input, or the
  // output of `writer`, this edge's exchange writer).
  std::function<std::unique_ptr<OutputNode>(TapSpec, OutputPtr next, OutputNode* writer)> make_tap;
};

struct JobGraph {
  std::string name;
  std::vector<NodeSpec> nodes;
  std::vector<EdgeSpec> edges;
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_GRAPH_H_
