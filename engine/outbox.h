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

}  // namespace haremq::engine
