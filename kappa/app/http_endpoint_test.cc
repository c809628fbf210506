#include "kappa/app/http_endpoint.h"

#include <httplib.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/app/json_tree.h"

namespace kappa::app {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(HttpEndpointTest, ServesThePageTheJobAndTheMetricsOnAFreePort) {
  runtime::JobMonitor monitor;
  auto http = HttpEndpoint::Start("127.0.0.1:0", &monitor);
  ASSERT_TRUE(http.ok()) << http.status();
  ASSERT_GT((*http)->port(), 0);
  EXPECT_EQ((*http)->url(), "http://127.0.0.1:" + std::to_string((*http)->port()) + "/");

  httplib::Client client("127.0.0.1", (*http)->port());
  auto page = client.Get("/");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), StartsWith("text/html"));
  EXPECT_THAT(page->body, HasSubstr("<title>Kappa</title>"));
  EXPECT_THAT(page->body, HasSubstr("fetch('api/job'"));  // the script is inlined

  auto job = client.Get("/api/job");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, 200);
  EXPECT_EQ(job->get_header_value("Content-Type"), "application/json");
  absl::StatusOr<JsonNode> parsed = ParseJsonTree(job->body);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << job->body;
  EXPECT_EQ(parsed->String("state"), "starting");  // nothing attached yet
  EXPECT_GT(parsed->Number("now_ms"), 0);

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"), StartsWith("text/plain; version=0.0.4"));

  EXPECT_EQ(client.Get("/nothing-here")->status, 404);
}

TEST(HttpEndpointTest, BadAddressesAreClearErrors) {
  runtime::JobMonitor monitor;
  for (const char* bad : {"8081", ":8081", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:-1"}) {
    auto http = HttpEndpoint::Start(bad, &monitor);
    ASSERT_FALSE(http.ok()) << bad;
    EXPECT_EQ(http.status().message(),
              std::string("--http ") + bad + ": expected HOST:PORT, e.g. 127.0.0.1:8081 (port 0 picks a free one)");
  }
  auto first = HttpEndpoint::Start("127.0.0.1:0", &monitor);
  ASSERT_TRUE(first.ok());
  std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpEndpoint::Start(taken, &monitor);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("--http " + taken + ": cannot listen there"));
}

TEST(HttpEndpointTest, StopsWhenDestroyedRightAfterStarting) {
  // A job that ends at once destroys its endpoint before the listening thread may even
  // have started serving; that must not leave the process waiting for it.
  runtime::JobMonitor monitor;
  for (int i = 0; i < 200; ++i) {
    auto http = HttpEndpoint::Start("127.0.0.1:0", &monitor);
    ASSERT_TRUE(http.ok()) << http.status();
  }
}

}  // namespace
}  // namespace kappa::app
