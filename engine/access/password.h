#pragma once

#include <optional>
#include <string>
#include <string_view>

// Password hashes as RabbitMQ stores them, so that users move between RabbitMQ and HareMQ
// through definitions files: base64 of a 4-byte random salt followed by hash(salt ++ password),
// the hash named by the user's "hashing_algorithm".
namespace haremq::engine::access {

enum class hashing { sha256, sha512, md5 };

// RabbitMQ's module name for each ("rabbit_password_hashing_sha256", ...).
std::string_view name_of(hashing h) noexcept;
// nullopt for a name RabbitMQ does not have. An empty name is sha256, RabbitMQ's default.
std::optional<hashing> parse_hashing(std::string_view name) noexcept;

// A new salted hash of `password`.
std::string hash_password(std::string_view password, hashing h = hashing::sha256);

// Standard base64 with padding (a stored hash, an HTTP Basic credential); nullopt if malformed.
std::optional<std::string> decode_base64(std::string_view text);

// Whether `password` is the one `password_hash` was made from. An empty or malformed hash
// matches nothing (a user imported without a password can not log in with one).
bool password_matches(std::string_view password, std::string_view password_hash, hashing h) noexcept;

}  // namespace haremq::engine::access
