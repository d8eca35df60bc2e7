#include "app/restore.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "base/file_io.h"
#include "engine/store/definitions.h"
#include "engine/store/definitions_file.h"
#include "engine/store/recovery.h"

namespace haremq::app {
namespace {

std::string counts(const engine::store::import_counts& n) {
  return std::to_string(n.vhosts) + " vhosts, " + std::to_string(n.exchanges) + " exchanges, " +
         std::to_string(n.queues) + " queues, " + std::to_string(n.bindings) + " bindings";
}

}  // namespace

bool restore(broker_state& broker, std::vector<std::unique_ptr<worker>>& workers, const data_directory& dir,
             const config& c, std::string& why) {
  const auto started = std::chrono::steady_clock::now();
  // Queues of the definitions are spread over the workers in turn.
  std::size_t next_owner = 0;
  const engine::store::queue_placement place = [&] {
    return engine::worker_id{static_cast<std::uint16_t>(next_owner++ % workers.size())};
  };

  const engine::store::definitions_file file(dir.definitions());
  // A definitions file of an earlier run is the whole truth: its users replace the first-boot guest.
  if (std::filesystem::exists(dir.definitions())) broker.topology.clear_access();
  const auto loaded = file.load(broker.topology, place);
  if (!loaded.ok()) {
    why = loaded.error;
    return false;
  }
  broker.topology.set_persistence(
      [file](const engine::definitions_view& definitions) { return file.save(definitions); });
  if (!c.definitions.empty()) {
    const auto imported = engine::store::definitions_file(c.definitions)
                              .load(broker.topology, place, engine::store::definitions_file::if_missing::error);
    if (!imported.ok()) {
      why = "cannot import " + imported.error;
      return false;
    }
    spdlog::info("imported {} from {}", counts(imported.applied), c.definitions);
  }

  auto scanned = engine::store::recovery::scan(dir.messages());
  if (!scanned) {
    why = "cannot read the message log in " + dir.messages().string() + ": " + scanned.error().message();
    return false;
  }
  engine::store::recovery& recovered = *scanned;
  broker.messages.next_segment.store(recovered.highest_segment() + 1);
  for (auto& w : workers) {
    if (!w->store().open()) {
      why = "cannot create a message log segment in " + dir.messages().string();
      return false;
    }
  }

  // A queue's messages are those of its incarnation: an older one of the same name was deleted.
  std::map<std::tuple<std::string, std::string, std::uint64_t>, const engine::store::recovered_queue*> by_name;
  for (const auto& q : recovered.queues()) by_name[{q.vhost, q.name, q.incarnation}] = &q;
  // After a crash nothing says which messages had been delivered: all are, as RabbitMQ says.
  const bool crashed = !dir.previous_run_clean() && recovered.stats().segments > 0;
  std::uint64_t messages = 0;
  std::size_t queues = 0;
  struct restoring {
    engine::shard* owner;
    engine::queue_id id;
    const engine::store::recovered_queue* recovered;
    std::size_t next = 0;
  };
  std::vector<restoring> restorings;
  std::vector<std::uint64_t> left_in_file(recovered.file_count());  // messages still to put back
  for (const auto& [vhost, v] : broker.topology.snapshot().first) {
    for (const auto& [name, record] : v.queues) {
      engine::shard& owner = workers[record.owner.value]->shard();
      owner.create_queue(record);
      const auto it = by_name.find({vhost, name, record.settings.incarnation});
      if (it == by_name.end()) continue;
      restorings.push_back(restoring{&owner, record.id, it->second});
      for (const auto& m : it->second->messages) ++left_in_file[m.file];
      messages += it->second->messages.size();
      ++queues;
      by_name.erase(it);
    }
  }
  std::uint64_t dropped = 0;
  for (const auto& [_, q] : by_name) dropped += q->messages.size();  // of deleted queues

  // Old segment by old segment: its messages go into the new logs, are synced, and it goes.
  for (std::uint32_t segment = 0; segment < recovered.file_count(); ++segment) {
    for (auto& r : restorings) {
      const std::size_t from = r.next;
      r.next = r.owner->recover(r.id, recovered, r.recovered->messages, r.next, segment, crashed);
      for (std::size_t i = from; i < r.next; ++i) --left_in_file[r.recovered->messages[i].file];
    }
    for (auto& w : workers) {
      if (!w->store().flush_blocking()) {
        why = "cannot write the message log in " + dir.messages().string();
        return false;
      }
    }
    for (std::uint32_t done = 0; done <= segment; ++done) {
      if (left_in_file[done] == 0 && !recovered.remove_segment(done)) {
        why = "cannot delete the message log segments of the previous run in " + dir.messages().string();
        return false;
      }
    }
  }
  (void)sync_directory(dir.messages());

  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  const auto& stats = recovered.stats();
  spdlog::info("recovered {} persistent messages in {} durable queues from {} segments ({} MiB) in {} ms{}{}", messages,
               queues, stats.segments, stats.bytes >> 20, took.count(),
               dropped > 0 ? "; dropped " + std::to_string(dropped) + " of queues that no longer exist" : "",
               crashed ? "; the previous run did not stop cleanly: they come back redelivered" : "");
  return true;
}

void finish_clean_stop(std::vector<std::unique_ptr<worker>>& workers, const data_directory& dir) {
  bool flushed = true;
  for (auto& w : workers) {
    w->shard().log_deliveries();
    flushed = w->store().flush_blocking() && flushed;
  }
  if (flushed) dir.mark_clean_shutdown();
}

}  // namespace haremq::app
