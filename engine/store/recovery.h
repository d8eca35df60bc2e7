#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/store/record.h"

// What the segments left by earlier runs hold: for each incarnation of each durable queue, its
// live persistent messages (published, not acked) in publish order, and which of them had been
// delivered. Which incarnation still exists is the definitions file's to say.
// Reading stops at the first record of a segment that does not check (a write torn by a
// crash, or damage): the segment is cut there, with a log line, and the scan goes on with the
// next one. The segments stay mapped until the recovery object goes; the broker writes the
// live messages into its new logs and then removes the old segments.
namespace haremq::engine::store {

struct recovered_message {
  std::uint64_t seq = 0;
  std::uint64_t offset = 0;  // of its record in the file
  std::uint32_t file = 0;    // index into the recovery's files
  bool delivered = false;
};

struct recovered_queue {
  std::string vhost;
  std::string name;
  std::uint64_t incarnation = 0;
  std::vector<recovered_message> messages;  // ascending seq
};

struct recovery_state;

struct recovery_stats {
  std::size_t segments = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::size_t cut_segments = 0;  // segments whose tail was torn or corrupt
};

class recovery {
 public:
  // Scans every `*.seg` file of `directory` (created if missing). Fails only when the
  // directory cannot be read or a segment cannot be opened.
  static result<recovery> scan(const std::filesystem::path& directory);

  recovery(recovery&& other) noexcept;
  recovery& operator=(recovery&&) = delete;
  ~recovery();

  const std::vector<recovered_queue>& queues() const noexcept { return _queues; }
  const recovery_stats& stats() const noexcept { return _stats; }
  // The highest segment number found (0: none); new segments are numbered after it.
  std::uint32_t highest_segment() const noexcept { return _highest; }
  // A recovered message's fields (views into the mapped segment).
  publish_fields fields(const recovered_message& m) const noexcept;
  // How many segment files were scanned; a recovered_message's `file` indexes them.
  std::uint32_t file_count() const noexcept { return static_cast<std::uint32_t>(_files.size()); }
  // Deletes scanned segment `file` (once its live messages are safely elsewhere) and unmaps it:
  // its messages' fields are gone then. False if it cannot be deleted (its records would meet
  // the new run's, which reuse the seqs).
  [[nodiscard]] bool remove_segment(std::uint32_t file);

 private:
  struct mapped_file {
    std::filesystem::path path;
    const std::byte* data = nullptr;
    std::size_t size = 0;    // up to the first record that does not check
    std::size_t mapped = 0;  // the file's size when mapped
    bool removed = false;
  };
  recovery();
  void scan_file(std::uint32_t index);
  void finish();

  std::vector<mapped_file> _files;
  std::vector<recovered_queue> _queues;
  recovery_stats _stats;
  std::uint32_t _highest = 0;
  std::unique_ptr<recovery_state> _state;  // while scanning
};

}  // namespace haremq::engine::store
