// Opt-in: Kafka from C++, for jobs built with the API directly rather than bound to
// `--source kafka://...` / `--sink kafka://...` on the command line (which needs no
// include beyond kappa/kappa.h), and librdkafka's embedded mock cluster for tests and
// demos. Values are JSON (JsonCodec<T>); offsets live in checkpoints; with checkpoints
// the sink commits in Kafka transactions (see docs/operations.md). librdkafka's headers
// are not included: link Kappa::kappa and include this.
//
//   #include "kappa/kafka.h"
//   #include "kappa/kappa.h"
//
//   // A real cluster's bootstrap ("broker1:9092"), or in tests the embedded one:
//   KAPPA_ASSIGN_OR_RETURN(auto cluster, kappa::connectors::kafka::EmbeddedCluster::Start());
//   KAPPA_RETURN_IF_ERROR(cluster->CreateTopic("clicks", 4));
//   KAPPA_ASSIGN_OR_RETURN(auto clicks, kappa::connectors::KafkaSource<Click>(
//       {.bootstrap = cluster->bootstrap(), .topic = "clicks", .end = "end"}));
//   KAPPA_ASSIGN_OR_RETURN(auto counts, kappa::connectors::KafkaSink<PageCount>(
//       {.bootstrap = cluster->bootstrap(), .topic = "counts", .key = {"page"}}));
//   auto job = kappa::Job::Create("clicks-per-page");
//   job->Source<Click>("clicks", clicks, strategy)
//       .KeyBy(...).Window(...).Aggregate(...)
//       .SinkTo(counts);
//   KAPPA_RETURN_IF_ERROR(job->Execute({}).status());
#ifndef KAPPA_KAFKA_H_
#define KAPPA_KAFKA_H_

#include "kappa/connectors/kafka/embedded_cluster.h"
#include "kappa/connectors/kafka/kafka_connectors.h"

#endif  // KAPPA_KAFKA_H_
