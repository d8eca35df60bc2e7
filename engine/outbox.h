#pragma once

#include "engine/command.h"
#include "engine/ids.h"

namespace haremq::engine {

// Where a worker's engine objects send commands: to its own worker (handled later in the
// same loop turn, never re-entrantly) or to another worker's mailbox.
class outbox {
 public:
  virtual ~outbox() = default;
  virtual void post(worker_id to, command&& c) = 0;
};

// A command's addressee (a connection or a channel) is gone: deliveries it was handed go
// back to their queues, to be redelivered to someone else.
inline void give_back(command&& c, outbox& out) {
  if (auto* d = std::get_if<deliver_cmd>(&c); d && d->dseq != 0) {
    out.post(d->owner, settle_cmd{d->queue, settle_action::requeue, {d->dseq}});
  } else if (auto* r = std::get_if<channel_reply_cmd>(&c)) {
    if (auto* got = std::get_if<get_result>(&r->payload); got && got->msg && got->dseq != 0) {
      out.post(got->owner, settle_cmd{got->queue, settle_action::requeue, {got->dseq}});
    }
  }
}

}  // namespace haremq::engine
