// Every connector of the library, for code inside Kappa and its tests: the registry that
// resolves URIs (MakeSource<T> / MakeSink<T>, registry.h) and the connectors themselves.
//
//   KAPPA_ASSIGN_OR_RETURN(auto src, kappa::connectors::MakeSource<Event>("file:log/", {}));
//   KAPPA_ASSIGN_OR_RETURN(auto sink, kappa::connectors::MakeSink<Row>("stdout:"));
//
// Sources: file:PATH, kafka://BOOTSTRAP/TOPIC, gen:nexmark?... Sinks: file:PATH,
// file:DIR/, kafka://BOOTSTRAP/TOPIC, stdout:, and discard: (drops records, counting
// them and, with ?latency=true, their latency now − ts; see discard_sink.h — what
// `kappa bench` runs queries into). Jobs reach them through kappa/kappa.h, which includes
// the registry alone.
#ifndef KAPPA_CONNECTORS_CONNECTORS_H_
#define KAPPA_CONNECTORS_CONNECTORS_H_

#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/discard_sink.h"
#include "kappa/connectors/file_sink.h"
#include "kappa/connectors/file_source.h"
#include "kappa/connectors/http_client.h"
#include "kappa/connectors/kafka/kafka_sink.h"
#include "kappa/connectors/kafka/kafka_source.h"
#include "kappa/connectors/nexmark_source.h"
#include "kappa/connectors/raw.h"
#include "kappa/connectors/registry.h"
#include "kappa/connectors/uri.h"

#endif  // KAPPA_CONNECTORS_CONNECTORS_H_
