#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

// Heap bytes that are not zeroed on allocation (std::vector<std::byte> would zero every byte
// it grows by, which is wasted work for buffers the kernel or a memcpy fills next).
// Not thread-safe; owned by one connection of one reactor.
namespace haremq::io::detail {

class byte_buffer {
 public:
  byte_buffer() = default;
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  byte_buffer(byte_buffer&&) noexcept = default;
  byte_buffer& operator=(byte_buffer&&) noexcept = default;

  std::byte* data() noexcept { return _data.get(); }
  const std::byte* data() const noexcept { return _data.get(); }
  std::size_t capacity() const noexcept { return _capacity; }

  // Replaces the storage with `capacity` bytes whose front holds the `size` bytes that were
  // at `from`. Allocates.
  void reallocate(std::size_t capacity, std::size_t from, std::size_t size) {
    auto fresh = std::make_unique_for_overwrite<std::byte[]>(capacity);
    if (size != 0) std::memcpy(fresh.get(), _data.get() + from, size);
    _data = std::move(fresh);
    _capacity = capacity;
  }

  void release() noexcept {
    _data.reset();
    _capacity = 0;
  }

 private:
  std::unique_ptr<std::byte[]> _data;
  std::size_t _capacity = 0;
};

}  // namespace haremq::io::detail
