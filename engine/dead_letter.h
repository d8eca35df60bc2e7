#pragma once

#include <cstdint>
#include <string_view>

#include "engine/message.h"

// Dead-lettering as RabbitMQ does it (rabbit_dead_letter): the message a queue hands to its
// dead-letter exchange, and the rule that drops a dead letter going round in a cycle.
namespace haremq::engine {

struct death {
  std::string_view queue;   // the queue it died in
  std::string_view reason;  // rejected, expired, maxlen, delivery_limit
  std::string_view exchange;           // the dead-letter exchange it goes to
  std::string_view routing_key;        // x-dead-letter-routing-key; empty: its own
  bool replace_routing_key = false;
  std::int64_t unix_seconds = 0;
};

// A copy of `original` (its body copied once) that comes through `d.exchange` with the routing
// key it is routed by, its `expiration` removed (kept in x-death as original-expiration), and
// the x-death header updated: the entry for the same queue and reason gets count+1 and moves
// to the front; otherwise a new entry {count, reason, queue, time, exchange, routing-keys}
// goes first, and the first death also sets x-first-death-reason/queue/exchange. Headers are
// kept sorted by name, as RabbitMQ's set_table_value keeps them. The copy keeps the original's
// CC header and BCC keys (it is routed by all of them again), but not with
// x-dead-letter-routing-key, which alone routes it. Null when memory runs out.
message_ref make_dead_letter(const message& original, const death& d);

// Whether delivering dead letter `m` to queue `target` closes a cycle no client broke: the
// queue is in its x-death, and no death on the way back to it was a rejection. RabbitMQ drops
// the message for that queue then (a rejected message may go round: a client decided so).
bool dead_letter_cycle(const message& m, std::string_view target);

}  // namespace haremq::engine
