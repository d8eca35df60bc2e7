#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

// The deliveries a settlement names, as runs of consecutive delivery numbers. The first two
// runs are kept inline, so an ack of one delivery, or a multi-ack of a run, crosses from the
// consumer's worker to the queue's without allocating; more runs spill into a vector.
namespace haremq::engine {

class delivery_ranges {
 public:
  delivery_ranges() = default;
  delivery_ranges(std::initializer_list<std::uint64_t> dseqs) {
    for (const std::uint64_t d : dseqs) add(d);
  }

  // Appends a delivery; one right after the last extends its run.
  void add(std::uint64_t dseq) {
    if (_count > 0) {
      run& last = at(_count - 1);
      if (last.last != UINT64_MAX && dseq == last.last + 1) {
        last.last = dseq;
        return;
      }
    }
    if (_count < _inline.size()) {
      _inline[_count] = run{dseq, dseq};
    } else {
      _more.push_back(run{dseq, dseq});
    }
    ++_count;
  }
  bool empty() const noexcept { return _count == 0; }
  void clear() noexcept {
    _count = 0;
    _more.clear();
  }

  // Every delivery, the last added first (requeueing newest first puts each at the front).
  template <class F>
  void for_each_newest_first(F&& f) const {
    for (std::size_t i = _count; i-- > 0;) {
      const run& r = at(i);
      for (std::uint64_t d = r.last;; --d) {
        f(d);
        if (d == r.first) break;
      }
    }
  }

 private:
  struct run {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
  };
  run& at(std::size_t i) noexcept { return i < _inline.size() ? _inline[i] : _more[i - _inline.size()]; }
  const run& at(std::size_t i) const noexcept { return i < _inline.size() ? _inline[i] : _more[i - _inline.size()]; }

  std::array<run, 2> _inline{};
  std::size_t _count = 0;
  std::vector<run> _more;
};

}  // namespace haremq::engine
