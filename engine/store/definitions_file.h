#pragma once

#include <filesystem>
#include <string_view>

#include "engine/store/definitions.h"
#include "engine/topology.h"

// The file that keeps the durable topology across restarts, in RabbitMQ's definitions format
// (so it can be imported into RabbitMQ, and RabbitMQ's export can be dropped in its place).
// Loaded once at start-up; saved whole by the topology_store's persistence hook after each
// durable change. Not thread-safe by itself: the store's mutex, held while the hook runs,
// orders the saves.
namespace haremq::engine::store {

class definitions_file {
 public:
  explicit definitions_file(std::filesystem::path file) : _file(std::move(file)) {}

  const std::filesystem::path& path() const noexcept { return _file; }

  // What load() makes of a file that is not there: the data directory's own file is empty
  // then; a file the user named (--definitions) is an error.
  enum class if_missing { empty, error };
  // Imports the file into `topology`. Every error names the file.
  [[nodiscard]] import_result load(topology_store& topology, const queue_placement& place,
                                   if_missing missing = if_missing::empty) const;

  // Writes the definitions through "<file>.tmp", fsynced and renamed over the file, then
  // fsyncs the directory, so a crash leaves the old file or the new one, never a torn one.
  // A failure is logged and the previous file stays; false then. Never throws (the hook's signature).
  bool save(const definitions_view& definitions) const noexcept;

 private:
  std::filesystem::path _file;
};

}  // namespace haremq::engine::store
