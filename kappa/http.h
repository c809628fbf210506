// Opt-in: the HTTP client for AsyncMap (kappa/connectors/http_client.h): a JSON GET or
// POST to a service in one line, its failures told apart for retry policies (5xx, 408,
// 429 and no answer are retriable; other 4xx and an answer that does not decode are
// permanent). cpp-httplib stays inside Kappa's library.
//
//   #include "kappa/http.h"
//   #include "kappa/kappa.h"
//
//   auto http = kappa::connectors::HttpClient::Create("http://127.0.0.1:8080").value();
//   bids.AsyncMap<Person>([http](const Bid& b, kappa::AsyncResult<Person> result) {
//     http->GetJson(absl::StrCat("/person/", b.bidder), std::move(result));
//   }, {.capacity = 64});
#ifndef KAPPA_HTTP_H_
#define KAPPA_HTTP_H_

#include "kappa/connectors/http_client.h"

#endif  // KAPPA_HTTP_H_
