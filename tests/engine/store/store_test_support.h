#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/result.h"
#include "engine/message.h"
#include "engine/store/message_store.h"
#include "engine/store/recovery.h"
#include "net/amqp/byte_reader.h"

// What the store's unit tests share: a data directory of their own, a disk_writer that writes
// for real, messages and bodies that say which message they are, and a look at what a restart
// would recover. Header-only; each test owns what it makes here, on its own thread.
namespace haremq::engine::store::test {

// A directory of its own for each test, removed with everything in it at the end.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = "/tmp/haremq_store_test_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::filesystem::path path;
};

enum class completion {
  immediate,  // each write as it is asked for, as a test writing in place
  by_hand,    // when the test calls finish() or finish_all(), as io_uring completions come in the worker
};

// A disk_writer that writes for real (pwrite, then fdatasync) and reports the outcome to
// `store` (a test_store sets it). With completion::by_hand it only records each write; the test
// completes them in order, whole or in part, with the error it chooses.
class test_writer final : public disk_writer {
 public:
  struct request {
    int fd = -1;
    std::vector<std::byte> bytes;
    std::uint64_t offset = 0;
  };

  explicit test_writer(completion mode = completion::immediate) : when(mode) {}

  void write_and_sync(int fd, std::span<const std::byte> bytes, std::uint64_t offset) override {
    requests.push_back(request{fd, std::vector<std::byte>(bytes.begin(), bytes.end()), offset});
    if (when == completion::immediate) finish_all();
  }
  bool in_flight() const { return completed < requests.size(); }
  const request& current() const { return requests.at(completed); }
  // Writes the first `n` bytes of the request in flight, then reports `n` and `error`.
  [[nodiscard]] bool finish(std::size_t n, std::error_code error = {}) {
    if (!in_flight() || store == nullptr) return false;
    const request r = requests[completed++];  // a copy: reporting may ask for the next write
    if (n > r.bytes.size()) return false;
    if (n > 0 && ::pwrite(r.fd, r.bytes.data(), n, static_cast<off_t>(r.offset)) != static_cast<ssize_t>(n)) {
      return false;
    }
    if (::fdatasync(r.fd) != 0) return false;
    store->on_written(n, error);
    return true;
  }
  [[nodiscard]] bool finish() { return in_flight() && finish(current().bytes.size()); }
  // Completes the writes in flight whole, and those their completion starts.
  void finish_all() {
    while (in_flight()) EXPECT_TRUE(finish());
  }

  completion when;
  message_store* store = nullptr;
  std::vector<request> requests;  // every write asked for, completed or not
  std::size_t completed = 0;
};

// A message_store that its test_writer reports to, for as long as it lives.
class test_store : public message_store {
 public:
  test_store(segment_directory& directory, test_writer& writer) : message_store(directory, writer), _writer(writer) {
    _writer.store = this;
  }
  ~test_store() {
    if (_writer.store == this) _writer.store = nullptr;
  }
  test_store(const test_store&) = delete;
  test_store& operator=(const test_store&) = delete;

 private:
  test_writer& _writer;
};

// Opaque bytes to the store, NULs included: content-type text/plain, delivery-mode 2.
inline const std::string properties("\x90\x00\x0atext/plain\x02", 14);

enum class delivery_mode { transient, persistent };

inline message_ref make_message(const std::string& body, std::string_view exchange = "amq.direct",
                                std::string_view key = "rk", delivery_mode mode = delivery_mode::persistent) {
  message* m = message::create(exchange, key, amqp::as_bytes(properties), body.size(),
                               message_traits{.persistent = mode == delivery_mode::persistent});
  EXPECT_TRUE(m->append_body(amqp::as_bytes(body)));
  return message_ref{m};
}

// The body of message `seq` of queue `name`, "<name>#<seq>:", padded with letters up to `size`
// bytes where that is longer.
inline std::string body_for(std::string_view name, std::uint64_t seq, std::size_t size = 0) {
  std::string b = std::string(name) + "#" + std::to_string(seq) + ":";
  while (b.size() < size) b.push_back(static_cast<char>('a' + (b.size() * 7 + seq) % 26));
  return b;
}

// Appends seqs first..last of queue `ref`, named `name`, with bodies body_for(name, seq, size).
inline std::vector<disk_location> publish(message_store& s, std::uint32_t ref, std::string_view name,
                                          std::uint64_t first, std::uint64_t last, std::size_t size = 0) {
  std::vector<disk_location> out;
  for (std::uint64_t seq = first; seq <= last; ++seq) {
    out.push_back(s.append_publish(ref, seq, *make_message(body_for(name, seq, size))));
  }
  return out;
}

inline std::string text(amqp::bytes_view b) { return std::string(amqp::as_chars(b)); }

// One recovered message, as a test compares it.
struct seen {
  std::uint64_t seq = 0;
  std::string body;
  bool delivered = false;
  friend bool operator==(const seen&, const seen&) = default;
  friend std::ostream& operator<<(std::ostream& o, const seen& s) {
    return o << "{" << s.seq << ", " << s.body << (s.delivered ? ", delivered}" : "}");
  }
};

// The recovered queue named (vhost, name), of `incarnation` or, without one, the first found.
inline const recovered_queue* find_queue(const recovery& r, std::string_view vhost, std::string_view name,
                                         std::optional<std::uint64_t> incarnation = std::nullopt) {
  for (const auto& q : r.queues()) {
    if (q.vhost == vhost && q.name == name && (!incarnation || q.incarnation == *incarnation)) return &q;
  }
  return nullptr;
}

// Deletes every segment the recovery scanned, as the broker does file by file.
[[nodiscard]] inline bool remove_all_segments(recovery& r) {
  bool all = true;
  for (std::uint32_t f = 0; f < r.file_count(); ++f) all = r.remove_segment(f) && all;
  return all;
}

inline std::vector<seen> messages_of(const recovery& r, std::string_view vhost, std::string_view name,
                                     std::optional<std::uint64_t> incarnation = std::nullopt) {
  std::vector<seen> out;
  if (const recovered_queue* q = find_queue(r, vhost, name, incarnation)) {
    for (const auto& m : q->messages) out.push_back(seen{m.seq, text(r.fields(m).body), m.delivered});
  }
  return out;
}

// A fixture whose segment directory, `messages` in a temporary folder, starts empty.
class store_fixture : public ::testing::Test {
 protected:
  store_fixture() {
    directory.path = tmp.path / "messages";
    std::filesystem::create_directories(directory.path);
  }

  result<recovery> scan() const { return recovery::scan(directory.path); }

  // Scans the segments as a restart does: the live messages of queue ("/", name).
  std::vector<seen> recovered(std::string_view name, std::optional<std::uint64_t> incarnation = std::nullopt) const {
    auto r = scan();
    EXPECT_TRUE(r.has_value());
    return r ? messages_of(*r, "/", name, incarnation) : std::vector<seen>{};
  }

  // Every file in the segment directory, in name order (which is number order).
  std::vector<std::filesystem::path> segment_files() const {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(directory.path)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  temp_dir tmp;
  segment_directory directory;
};

}  // namespace haremq::engine::store::test
