#include "engine/store/recovery.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_map>

namespace haremq::engine::store {
namespace {

struct seq_range {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};

// One incarnation of a queue while the segments are read.
struct gathering {
  recovered_queue queue;
  std::vector<seq_range> acked;
  std::vector<seq_range> delivered;
};

// The segment number in a file name "<number>.seg"; 0 if it is not one.
std::uint32_t segment_number(const std::filesystem::path& p) {
  if (p.extension() != ".seg") return 0;
  const std::string stem = p.stem().string();
  std::uint32_t n = 0;
  const auto [end, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), n);
  return ec == std::errc{} && end == stem.data() + stem.size() ? n : 0;
}

void sort_by_first(std::vector<seq_range>& ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const seq_range& a, const seq_range& b) { return a.first < b.first; });
}

// Whether `seq` is in one of `ranges` (sorted), walking `at` forward as seqs ascend.
bool covered(const std::vector<seq_range>& ranges, std::size_t& at, std::uint64_t seq) {
  while (at < ranges.size() && ranges[at].first + ranges[at].count <= seq) ++at;
  // Ranges may overlap (a delivery logged twice): look at the ones that start before seq.
  for (std::size_t i = at; i < ranges.size() && ranges[i].first <= seq; ++i) {
    if (seq < ranges[i].first + ranges[i].count) return true;
  }
  return false;
}

}  // namespace

struct recovery_state {
  std::map<std::tuple<std::string, std::string, std::uint64_t>, gathering> incarnations;
};

result<recovery> recovery::scan(const std::filesystem::path& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return ec;
  std::vector<std::pair<std::uint32_t, std::filesystem::path>> found;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    if (const std::uint32_t n = segment_number(entry.path()); n != 0) found.emplace_back(n, entry.path());
  }
  if (ec) return ec;
  std::sort(found.begin(), found.end());

  recovery r;
  for (const auto& [number, path] : found) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return std::error_code(errno, std::system_category());
    struct stat st {};
    ::fstat(fd, &st);
    mapped_file f{path, nullptr, static_cast<std::size_t>(st.st_size), static_cast<std::size_t>(st.st_size), false};
    if (f.size > 0) {
      void* p = ::mmap(nullptr, f.size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        const std::error_code failed(errno, std::system_category());
        ::close(fd);
        return failed;
      }
      f.data = static_cast<const std::byte*>(p);
    }
    r._files.push_back(std::move(f));
    r._highest = std::max(r._highest, number);
    ++r._stats.segments;
    r._stats.bytes += r._files.back().size;
    r.scan_file(static_cast<std::uint32_t>(r._files.size() - 1));
    // A torn tail is cut off, so that nothing is ever appended after garbage.
    if (r._files.back().size < static_cast<std::size_t>(st.st_size)) {
      (void)::ftruncate(fd, static_cast<off_t>(r._files.back().size));
    }
    ::close(fd);
  }
  r.finish();
  return r;
}

recovery::recovery() = default;

recovery::recovery(recovery&& other) noexcept
    : _files(std::move(other._files)),
      _queues(std::move(other._queues)),
      _stats(other._stats),
      _highest(other._highest),
      _state(std::move(other._state)) {}

recovery::~recovery() {
  for (const auto& f : _files) {
    if (f.data != nullptr) ::munmap(const_cast<std::byte*>(f.data), f.mapped);
  }
}

void recovery::scan_file(std::uint32_t index) {
  if (!_state) _state = std::make_unique<recovery_state>();
  mapped_file& f = _files[index];
  std::unordered_map<std::uint32_t, gathering*> refs;  // this segment's queue records
  std::size_t offset = 0;
  for (;;) {
    record_view rec;
    const scan_status status = read_record(amqp::bytes_view(f.data + offset, f.size - offset), rec);
    if (status == scan_status::end) break;
    bool ok = status == scan_status::record;
    if (ok) {
      switch (rec.type) {
        case record_type::queue: {
          queue_fields q;
          ok = decode(rec.fields, q);
          if (!ok) break;
          gathering& g = _state->incarnations[{std::string(q.vhost), std::string(q.name), q.incarnation}];
          g.queue.vhost = q.vhost;
          g.queue.name = q.name;
          g.queue.incarnation = q.incarnation;
          refs[q.ref] = &g;
          break;
        }
        case record_type::publish: {
          publish_fields p;
          ok = decode(rec.fields, p) && refs.contains(p.ref);
          if (ok) refs[p.ref]->queue.messages.push_back(recovered_message{p.seq, offset, index, false});
          break;
        }
        case record_type::ack:
        case record_type::delivered: {
          range_fields a;
          ok = decode(rec.fields, a) && refs.contains(a.ref);
          if (!ok) break;
          gathering& g = *refs[a.ref];
          (rec.type == record_type::ack ? g.acked : g.delivered).push_back(seq_range{a.first, a.count});
          break;
        }
        default:
          ok = false;
      }
    }
    if (!ok) {
      spdlog::warn("recovery: {} record at offset {} of {}: cutting off its last {} bytes",
                   status == scan_status::torn ? "torn" : "corrupt", offset, f.path.string(), f.size - offset);
      f.size = offset;
      ++_stats.cut_segments;
      break;
    }
    ++_stats.records;
    offset += rec.size;
  }
}

void recovery::finish() {
  if (!_state) return;
  const auto by_seq = [](const recovered_message& a, const recovered_message& b) { return a.seq < b.seq; };
  for (auto& [_, g] : _state->incarnations) {
    auto& msgs = g.queue.messages;
    // A crash while the last recovery rewrote the messages leaves some twice: same seq.
    if (!std::is_sorted(msgs.begin(), msgs.end(), by_seq)) std::stable_sort(msgs.begin(), msgs.end(), by_seq);
    sort_by_first(g.acked);
    sort_by_first(g.delivered);
    std::size_t acked_at = 0;
    std::size_t delivered_at = 0;
    std::size_t kept = 0;
    std::uint64_t last_seq = 0;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      recovered_message m = msgs[i];
      if (kept > 0 && m.seq == last_seq) continue;
      last_seq = m.seq;
      if (covered(g.acked, acked_at, m.seq)) continue;
      m.delivered = covered(g.delivered, delivered_at, m.seq);
      msgs[kept++] = m;
    }
    msgs.resize(kept);
    if (!msgs.empty()) _queues.push_back(std::move(g.queue));
  }
  _state.reset();
}

publish_fields recovery::fields(const recovered_message& m) const noexcept {
  const mapped_file& f = _files[m.file];
  record_view rec;
  publish_fields p;
  (void)read_record(amqp::bytes_view(f.data + m.offset, f.size - m.offset), rec);
  (void)decode(rec.fields, p);
  return p;
}

bool recovery::remove_segment(std::uint32_t file) {
  mapped_file& f = _files[file];
  if (f.removed) return true;
  std::error_code ec;
  std::filesystem::remove(f.path, ec);
  if (ec) {
    spdlog::error("recovery: cannot delete {}: {}", f.path.string(), ec.message());
    return false;
  }
  f.removed = true;
  // Its pages too: a mapping keeps a deleted file's space (on tmpfs, its memory) in use.
  if (f.data != nullptr) ::munmap(const_cast<std::byte*>(f.data), f.mapped);
  f.data = nullptr;
  return true;
}

}  // namespace haremq::engine::store
