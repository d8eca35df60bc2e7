#include "engine/access/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <vector>

namespace haremq::engine::access {
namespace {

constexpr std::size_t salt_size = 4;  // RabbitMQ's

const EVP_MD* digest_of(hashing h) noexcept {
  switch (h) {
    case hashing::sha512: return EVP_sha512();
    case hashing::md5: return EVP_md5();
    case hashing::sha256: break;
  }
  return EVP_sha256();
}

// salt ++ digest(salt ++ password); empty if OpenSSL fails.
std::vector<unsigned char> salted_digest(const unsigned char* salt, std::string_view password, hashing h) {
  std::vector<unsigned char> out(salt, salt + salt_size);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, digest_of(h), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, salt, salt_size) == 1 &&
                  EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest.data(), &length) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  out.insert(out.end(), digest.begin(), digest.begin() + length);
  return out;
}

std::string base64(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}


}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i) --size;
  out.resize(size);
  return out;
}

std::string_view name_of(hashing h) noexcept {
  switch (h) {
    case hashing::sha512: return "rabbit_password_hashing_sha512";
    case hashing::md5: return "rabbit_password_hashing_md5";
    case hashing::sha256: break;
  }
  return "rabbit_password_hashing_sha256";
}

std::optional<hashing> parse_hashing(std::string_view name) noexcept {
  if (name.empty() || name == name_of(hashing::sha256)) return hashing::sha256;
  if (name == name_of(hashing::sha512)) return hashing::sha512;
  if (name == name_of(hashing::md5)) return hashing::md5;
  return std::nullopt;
}

std::string hash_password(std::string_view password, hashing h) {
  std::array<unsigned char, salt_size> salt{};
  if (RAND_bytes(salt.data(), salt_size) != 1) return {};
  return base64(salted_digest(salt.data(), password, h));
}

bool password_matches(std::string_view password, std::string_view password_hash, hashing h) noexcept {
  try {
    const auto stored = decode_base64(password_hash);
    if (!stored || stored->size() <= salt_size) return false;
    const auto computed = salted_digest(reinterpret_cast<const unsigned char*>(stored->data()), password, h);
    return computed.size() == stored->size() && CRYPTO_memcmp(computed.data(), stored->data(), computed.size()) == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace haremq::engine::access
