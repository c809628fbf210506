// Opt-in: the Nexmark benchmark's event model (Person, Auction, Bid in one Event), its
// JSON codec and serializers, for jobs over Nexmark input (the generator gen:nexmark, or
// a file log or Kafka topic of its JSON lines).
#ifndef KAPPA_NEXMARK_H_
#define KAPPA_NEXMARK_H_

#include "kappa/connectors/nexmark/codec.h"
#include "kappa/connectors/nexmark/event.h"

#endif  // KAPPA_NEXMARK_H_
