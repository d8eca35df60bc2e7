// Users' passwords and rights: RabbitMQ's hash format (checked against hashes a real RabbitMQ
// 3.10 wrote), the three patterns and how a name is matched, tags.
#include <gtest/gtest.h>

#include "engine/access/access.h"
#include "engine/access/password.h"

namespace haremq::engine::access {
namespace {

TEST(Password, HashesAreSaltedAndVerify) {
  for (const auto h : {hashing::sha256, hashing::sha512, hashing::md5}) {
    const std::string a = hash_password("s3cret", h);
    const std::string b = hash_password("s3cret", h);
    EXPECT_NE(a, b) << "a fresh salt each time";
    EXPECT_TRUE(password_matches("s3cret", a, h));
    EXPECT_TRUE(password_matches("s3cret", b, h));
    EXPECT_FALSE(password_matches("s3creT", a, h));
    EXPECT_FALSE(password_matches("", a, h));
  }
  // Sizes of salt + digest, base64: 4 + 32, 4 + 64, 4 + 16 bytes.
  EXPECT_EQ(hash_password("x", hashing::sha256).size(), 48u);
  EXPECT_EQ(hash_password("x", hashing::sha512).size(), 92u);
  EXPECT_EQ(hash_password("x", hashing::md5).size(), 28u);
}

TEST(Password, VerifiesAHashRabbitMqWrote) {
  // guest/guest from `rabbitmqctl export_definitions` of RabbitMQ 3.10.8 (tests/data/definitions).
  EXPECT_TRUE(password_matches("guest", "YtL5EfBap0ayiG2mlauKwJBV8m9BcSG9Oj6sh2SPdQMfm8J+", hashing::sha256));
  EXPECT_FALSE(password_matches("guest", "YtL5EfBap0ayiG2mlauKwJBV8m9BcSG9Oj6sh2SPdQMfm8J+", hashing::sha512));
}

TEST(Password, MalformedHashesMatchNothing) {
  for (const char* bad : {"", "abc", "!!!!", "AAAA", "not base64 at all"}) {
    EXPECT_FALSE(password_matches("", bad, hashing::sha256)) << bad;
    EXPECT_FALSE(password_matches("guest", bad, hashing::sha256)) << bad;
  }
}

TEST(Password, AlgorithmNames) {
  EXPECT_EQ(parse_hashing(""), hashing::sha256);
  EXPECT_EQ(parse_hashing("rabbit_password_hashing_sha512"), hashing::sha512);
  EXPECT_EQ(parse_hashing("rabbit_password_hashing_md5"), hashing::md5);
  EXPECT_EQ(parse_hashing("rabbit_password_hashing_rot13"), std::nullopt);
  for (const auto h : {hashing::sha256, hashing::sha512, hashing::md5}) EXPECT_EQ(parse_hashing(name_of(h)), h);
}

TEST(Grant, PatternsSearchAnywhereAndEmptyGrantsNothing) {
  const grant g({"^alice-.*", "x", ""});
  EXPECT_TRUE(g.allows(permission::configure, resource_kind::queue, "alice-q"));
  EXPECT_FALSE(g.allows(permission::configure, resource_kind::queue, "bob-alice-q"));
  EXPECT_TRUE(g.allows(permission::write, resource_kind::exchange, "a-x-b")) << "unanchored: a search";
  EXPECT_FALSE(g.allows(permission::write, resource_kind::exchange, "abc"));
  EXPECT_FALSE(g.allows(permission::read, resource_kind::queue, "")) << "an empty pattern denies";
  EXPECT_FALSE(g.allows(permission::read, resource_kind::queue, "anything"));
}

TEST(Grant, TheDefaultExchangeIsCheckedAsAmqDefault) {
  EXPECT_TRUE(grant({"", "^amq\\.default$", ""}).allows(permission::write, resource_kind::exchange, ""));
  EXPECT_FALSE(grant({"", "^$", ""}).allows(permission::write, resource_kind::exchange, ""));
  // A queue named "" is not renamed.
  EXPECT_TRUE(grant({"", "", "^$"}).allows(permission::read, resource_kind::queue, ""));
  EXPECT_EQ(refusal(resource_kind::exchange, "", "/", "u"), "access to exchange 'amq.default' in vhost '/' refused for user 'u'");
  EXPECT_EQ(refusal(resource_kind::queue, "q", "v2", "alice"), "access to queue 'q' in vhost 'v2' refused for user 'alice'");
}

TEST(Grant, APatternThatDoesNotCompileGrantsNothing) {
  std::string error;
  EXPECT_FALSE(valid_pattern("(", error));
  EXPECT_FALSE(error.empty());
  EXPECT_TRUE(valid_pattern("^a|b$", error));
  EXPECT_FALSE(grant({"(", "(", "("}).allows(permission::configure, resource_kind::queue, "("));
}

TEST(Tags, SplitAndRoles) {
  EXPECT_EQ(split_tags("administrator, monitoring,,management "),
            (std::vector<std::string>{"administrator", "monitoring", "management"}));
  EXPECT_TRUE(split_tags("").empty());
  user_record u{"u", "", hashing::sha256, {"monitoring"}};
  EXPECT_TRUE(u.can_monitor());
  EXPECT_TRUE(u.can_use_management());
  EXPECT_FALSE(u.is_administrator());
  u.tags = {"policymaker"};
  EXPECT_TRUE(u.can_use_management());
  EXPECT_FALSE(u.can_monitor());
  u.tags = {};
  EXPECT_FALSE(u.can_use_management());
}

}  // namespace
}  // namespace haremq::engine::access
