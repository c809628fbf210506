#include "kappa/runtime/plan.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::runtime {
namespace {

using ::testing::ElementsAre;

// Graphs built by hand: planning reads only names, parallelism, the source flag and the
// edges, never the factories.
class GraphBuilder {
 public:
  int Source(const std::string& name, int parallelism = 0) { return Add(name, parallelism, true); }
  int Node(const std::string& name, int parallelism = 0) { return Add(name, parallelism, false); }
  GraphBuilder& Edge(int from, int to, Partitioning partitioning = Partitioning::kForward, int to_input = 0) {
    EdgeSpec e;
    e.from = from;
    e.to = to;
    e.to_input = to_input;
    e.partitioning = partitioning;
    graph.edges.push_back(std::move(e));
    return *this;
  }
  JobGraph graph{.name = "plan-test"};

 private:
  int Add(const std::string& name, int parallelism, bool source) {
    NodeSpec n;
    n.id = static_cast<int>(graph.nodes.size());
    n.name = name;
    n.uid = name;
    n.parallelism = parallelism;
    n.source = source;
    graph.nodes.push_back(std::move(n));
    return graph.nodes.back().id;
  }
};

TEST(PlanTest, ForwardEdgesBetweenEqualParallelismsFuseIntoOneChain) {
  GraphBuilder b;
  int src = b.Source("src"), map = b.Node("map"), filter = b.Node("filter");
  b.Edge(src, map).Edge(map, filter);
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 2, 128);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->heads(), ElementsAre(src));
  EXPECT_THAT(plan->chain[src], ElementsAre(src, map, filter));
  EXPECT_THAT(plan->chained, ElementsAre(true, true));
  EXPECT_EQ(plan->head[filter], src);
  EXPECT_EQ(plan->Describe(b.graph), "task x2: src -> map -> filter\n");
}

TEST(PlanTest, HashRebalanceAndBroadcastEdgesStartANewTask) {
  for (Partitioning p : {Partitioning::kHash, Partitioning::kRebalance, Partitioning::kBroadcast}) {
    GraphBuilder b;
    int src = b.Source("src"), op = b.Node("op");
    b.Edge(src, op, p);
    absl::StatusOr<Plan> plan = Plan::Make(b.graph, 1, 128);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_THAT(plan->heads(), ElementsAre(src, op)) << static_cast<int>(p);
    EXPECT_FALSE(plan->chained[0]);
  }
}

TEST(PlanTest, ForwardEdgeBetweenDifferentParallelismsDoesNotFuse) {
  GraphBuilder b;
  int src = b.Source("src", 1), op = b.Node("op", 3);
  b.Edge(src, op);
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 2, 128);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->heads(), ElementsAre(src, op));
  EXPECT_EQ(plan->Describe(b.graph), "task x1: src\ntask x3: op\n");
}

TEST(PlanTest, NodeWithTwoInputsHeadsItsOwnChainAndItsForwardSuccessorJoinsIt) {
  GraphBuilder b;
  int left = b.Source("left"), right = b.Source("right"), join = b.Node("join"), out = b.Node("out");
  b.Edge(left, join, Partitioning::kForward, 0).Edge(right, join, Partitioning::kForward, 1).Edge(join, out);
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 1, 128);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->heads(), ElementsAre(left, right, join));
  EXPECT_THAT(plan->chain[join], ElementsAre(join, out));
  EXPECT_THAT(plan->in_edges[join], ElementsAre(0, 1));
}

TEST(PlanTest, ParallelismDefaultsToTheRunsAndANodeMayOverrideIt) {
  GraphBuilder b;
  int src = b.Source("src"), op = b.Node("op", 5);
  b.Edge(src, op, Partitioning::kHash);
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 4, 128);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->parallelism, ElementsAre(4, 5));
}

TEST(PlanTest, ParallelismAboveTheKeyGroupCountIsAnError) {
  GraphBuilder b;
  b.Source("src", 200);
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 1, 128);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message(), "operator 'src' has parallelism 200 above the maximum 128");
}

TEST(PlanTest, OperatorWithoutInputIsAnError) {
  GraphBuilder b;
  b.Source("src");
  b.Node("orphan");
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 1, 128);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message(), "operator 'orphan' has no input");
}

TEST(PlanTest, FanOutFusesEveryForwardConsumerWithASingleInput) {
  GraphBuilder b;
  int src = b.Source("src"), a = b.Node("a"), c = b.Node("c");
  b.Edge(src, a).Edge(src, c);
  absl::StatusOr<Plan> plan = Plan::Make(b.graph, 1, 128);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->chain[src], ElementsAre(src, a, c));
  EXPECT_EQ(plan->Describe(b.graph), "task x1: src -> a -> c\n");
}

}  // namespace
}  // namespace kappa::runtime
