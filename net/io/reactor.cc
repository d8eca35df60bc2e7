#include "net/io/reactor.h"

#include "net/io/epoll_reactor.h"
#include "net/io/uring_reactor.h"

namespace haremq::io {

std::string_view name_of(backend b) noexcept {
  switch (b) {
    case backend::io_uring: return "io_uring";
    case backend::epoll: return "epoll";
  }
  return "unknown";
}

result<std::unique_ptr<reactor>> reactor::create(backend wanted, reactor_handler& handler,
                                                 reactor_options options) {
  switch (wanted) {
    case backend::io_uring: return detail::uring_reactor::create(handler, options);
    case backend::epoll: return detail::epoll_reactor::create(handler, options);
  }
  return std::make_error_code(std::errc::invalid_argument);
}

}  // namespace haremq::io
