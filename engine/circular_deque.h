#pragma once

#include <algorithm>
#include <bit>
#include <compare>
#include <cstddef>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace haremq::engine {

// A FIFO in one power-of-two block that wraps around: pushing at the back, popping at the
// front and indexing cost a mask and a compare. std::deque allocates a node every 512
// bytes and divides to index; a queue's unacked deliveries go through here once per
// message, so that is what the hot path pays. (Ready messages stay in std::deque: a backlog
// of millions would leave up to half of a power-of-two block unused.)
// - Allocates only to grow (doubling, when full) or to shrink: once a pop leaves a block of
//   more than kept_capacity slots an eighth full, it moves to a block twice its size (at
//   least kept_capacity). A burst's memory goes back, while a queue whose deliveries come
//   and go in rounds of up to a few hundred keeps its block instead of reallocating each
//   round. Growing and shrinking move every element once.
// - Not thread-safe: it belongs to the queue's worker, like the queue.
// - Iterators are random-access and are invalidated by any change of size.
template <class T>
class circular_deque {
  static_assert(std::is_nothrow_move_constructible_v<T>, "elements move when the block grows");

  template <bool Const>
  class basic_iterator {
    using owner = std::conditional_t<Const, const circular_deque, circular_deque>;

   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;

    basic_iterator() = default;
    basic_iterator(owner* d, std::size_t i) : _d(d), _i(i) {}
    template <bool C = Const>
      requires C
    basic_iterator(const basic_iterator<false>& o) : _d(o._d), _i(o._i) {}  // NOLINT: iterator to const_iterator

    reference operator*() const { return (*_d)[_i]; }
    pointer operator->() const { return &(*_d)[_i]; }
    reference operator[](difference_type n) const { return (*_d)[_i + static_cast<std::size_t>(n)]; }
    basic_iterator& operator++() { ++_i; return *this; }
    basic_iterator& operator--() { --_i; return *this; }
    basic_iterator operator++(int) { auto t = *this; ++_i; return t; }
    basic_iterator operator--(int) { auto t = *this; --_i; return t; }
    basic_iterator& operator+=(difference_type n) { _i += static_cast<std::size_t>(n); return *this; }
    basic_iterator& operator-=(difference_type n) { _i -= static_cast<std::size_t>(n); return *this; }
    friend basic_iterator operator+(basic_iterator a, difference_type n) { return a += n; }
    friend basic_iterator operator+(difference_type n, basic_iterator a) { return a += n; }
    friend basic_iterator operator-(basic_iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const basic_iterator& a, const basic_iterator& b) {
      return static_cast<difference_type>(a._i) - static_cast<difference_type>(b._i);
    }
    friend bool operator==(const basic_iterator& a, const basic_iterator& b) { return a._i == b._i; }
    friend auto operator<=>(const basic_iterator& a, const basic_iterator& b) { return a._i <=> b._i; }
    std::size_t index() const noexcept { return _i; }

   private:
    friend class basic_iterator<!Const>;
    owner* _d = nullptr;
    std::size_t _i = 0;  // from the front
  };

 public:
  using value_type = T;
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;
  static constexpr std::size_t min_capacity = 16;    // the first block
  static constexpr std::size_t kept_capacity = 256;  // never shrunk below

  circular_deque() = default;
  circular_deque(circular_deque&& o) noexcept
      : _slots(std::exchange(o._slots, nullptr)),
        _mask(std::exchange(o._mask, 0)),
        _head(std::exchange(o._head, 0)),
        _size(std::exchange(o._size, 0)) {}
  circular_deque& operator=(circular_deque&& o) noexcept {
    if (this != &o) {
      release();
      _slots = std::exchange(o._slots, nullptr);
      _mask = std::exchange(o._mask, 0);
      _head = std::exchange(o._head, 0);
      _size = std::exchange(o._size, 0);
    }
    return *this;
  }
  circular_deque(const circular_deque&) = delete;
  circular_deque& operator=(const circular_deque&) = delete;
  ~circular_deque() { release(); }

  bool empty() const noexcept { return _size == 0; }
  std::size_t size() const noexcept { return _size; }
  std::size_t capacity() const noexcept { return _slots == nullptr ? 0 : _mask + 1; }

  T& operator[](std::size_t i) noexcept { return _slots[(_head + i) & _mask]; }
  const T& operator[](std::size_t i) const noexcept { return _slots[(_head + i) & _mask]; }
  T& front() noexcept { return _slots[_head]; }
  const T& front() const noexcept { return _slots[_head]; }

  iterator begin() noexcept { return {this, 0}; }
  iterator end() noexcept { return {this, _size}; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, _size}; }
  reverse_iterator rbegin() noexcept { return reverse_iterator{end()}; }
  reverse_iterator rend() noexcept { return reverse_iterator{begin()}; }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator{end()}; }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator{begin()}; }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (_slots == nullptr || _size == _mask + 1) [[unlikely]] regrow(next_capacity());
    T* at = std::construct_at(&_slots[(_head + _size) & _mask], std::forward<Args>(args)...);
    ++_size;
    return *at;
  }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  void push_back(const T& v) { emplace_back(v); }
  void pop_front() noexcept {
    std::destroy_at(&_slots[_head]);
    _head = (_head + 1) & _mask;
    --_size;
    shrink_if_sparse();
  }
  void clear() noexcept { release(); }

 private:
  std::size_t next_capacity() const noexcept { return _slots == nullptr ? min_capacity : 2 * (_mask + 1); }
  void shrink_if_sparse() noexcept {
    const std::size_t cap = _mask + 1;
    if (cap > kept_capacity && _size <= cap / 8) [[unlikely]] {
      regrow(std::max(kept_capacity, std::bit_ceil(2 * _size)));
    }
  }
  // Moves the elements, in order from slot 0, to a block of `capacity` slots.
  void regrow(std::size_t capacity) {
    T* slots = std::allocator<T>{}.allocate(capacity);
    for (std::size_t i = 0; i < _size; ++i) {
      T& from = (*this)[i];
      std::construct_at(&slots[i], std::move(from));
      std::destroy_at(&from);
    }
    if (_slots != nullptr) std::allocator<T>{}.deallocate(_slots, _mask + 1);
    _slots = slots;
    _mask = capacity - 1;
    _head = 0;
  }
  void release() noexcept {
    if (_slots == nullptr) return;
    for (std::size_t i = 0; i < _size; ++i) std::destroy_at(&(*this)[i]);
    std::allocator<T>{}.deallocate(_slots, _mask + 1);
    _slots = nullptr;
    _mask = 0;
    _head = 0;
    _size = 0;
  }

  T* _slots = nullptr;
  std::size_t _mask = 0;  // capacity - 1
  std::size_t _head = 0;  // the front's slot
  std::size_t _size = 0;
};

}  // namespace haremq::engine
