#pragma once

#include <filesystem>
#include <string>

#include "base/result.h"

// The broker's data directory: `definitions.json` (the durable topology, RabbitMQ's format),
// `messages/` (the workers' message logs) and two small files: `LOCK`, held (flock) while a
// broker uses the directory, so that a second one refuses to start instead of corrupting it;
// and `clean-shutdown`, written last by a clean stop and removed at start, which tells recovery
// whether the previous run ended in order.
namespace haremq::app {

class data_directory {
 public:
  // Creates what is missing, takes the lock and consumes the clean-shutdown mark. The error
  // says why the directory is unusable.
  static result<data_directory> open(const std::filesystem::path& root, std::string& why);
  data_directory(data_directory&& other) noexcept;
  data_directory& operator=(data_directory&&) = delete;
  ~data_directory();

  const std::filesystem::path& root() const noexcept { return _root; }
  std::filesystem::path definitions() const { return definitions_in(_root); }
  // The definitions file of a data directory, for a reader that does not open it (an export).
  static std::filesystem::path definitions_in(const std::filesystem::path& root) { return root / "definitions.json"; }
  std::filesystem::path messages() const { return _root / "messages"; }
  // Whether the previous run stopped cleanly (false for a new directory's first run).
  bool previous_run_clean() const noexcept { return _was_clean; }
  // Called after everything was flushed at a clean stop.
  void mark_clean_shutdown() const;

 private:
  data_directory(std::filesystem::path root, int lock_fd, bool was_clean)
      : _root(std::move(root)), _lock_fd(lock_fd), _was_clean(was_clean) {}
  std::filesystem::path _root;
  int _lock_fd = -1;
  bool _was_clean = false;
};

}  // namespace haremq::app
