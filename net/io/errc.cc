#include "net/io/errc.h"

#include <string>

namespace haremq::io {
namespace {

class io_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "io"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::peer_closed: return "connection closed by peer";
      case errc::uring_unsupported: return "io_uring lacks a needed operation";
    }
    return "unknown io error";
  }
};

}  // namespace

const std::error_category& io_category() noexcept {
  static const io_category_impl category;
  return category;
}

}  // namespace haremq::io
