// Covers: defaults, every part given, percent-decoding (the %2F vhost), IPv6 literals, the
// errors (scheme, amqps, port, escapes, a second '/', queries), the loopback check.
#include "perf/uri.h"

#include <gtest/gtest.h>

namespace haremq::perf {
namespace {

TEST(Uri, AbsentPartsKeepTheDefaults) {
  const auto u = parse_uri("amqp://");
  ASSERT_FALSE(u.has_value());  // no host
  EXPECT_EQ(u.error(), errc::uri_empty_host);

  const auto h = parse_uri("amqp://localhost");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->user, "guest");
  EXPECT_EQ(h->password, "guest");
  EXPECT_EQ(h->host, "localhost");
  EXPECT_EQ(h->port, 5672);
  EXPECT_EQ(h->vhost, "/");
}

TEST(Uri, ReadsEveryPart) {
  const auto u = parse_uri("amqp://alice:s3cret@127.0.0.1:5701/%2F");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 5701);
  EXPECT_EQ(u->vhost, "/");
  EXPECT_EQ(u->endpoint(), "127.0.0.1:5701");
}

TEST(Uri, SchemeIsCaseInsensitive) {
  const auto u = parse_uri("AMQP://h/v");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->vhost, "v");
}

TEST(Uri, PercentDecodesUserPasswordAndVhost) {
  const auto u = parse_uri("amqp://us%40er:p%3Aa%2fss@h/my%2Fvhost");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->user, "us@er");
  EXPECT_EQ(u->password, "p:a/ss");
  EXPECT_EQ(u->vhost, "my/vhost");
}

TEST(Uri, UserWithoutPasswordKeepsTheDefaultPassword) {
  const auto u = parse_uri("amqp://bob@h");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->user, "bob");
  EXPECT_EQ(u->password, "guest");
}

TEST(Uri, EmptyPathMeansTheDefaultVhost) {
  const auto u = parse_uri("amqp://h:5672/");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->vhost, "/");
}

TEST(Uri, ReadsBracketedIpv6) {
  const auto u = parse_uri("amqp://[::1]:5702/x");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 5702);
  EXPECT_EQ(u->endpoint(), "[::1]:5702");
  const auto no_port = parse_uri("amqp://[::1]");
  ASSERT_TRUE(no_port.has_value());
  EXPECT_EQ(no_port->port, 5672);
  EXPECT_EQ(parse_uri("amqp://[::1/").error(), errc::uri_bad_host);
  EXPECT_EQ(parse_uri("amqp://[::1]x/").error(), errc::uri_bad_host);
}

TEST(Uri, RejectsWhatItCannotHonour) {
  EXPECT_EQ(parse_uri("http://h").error(), errc::uri_bad_scheme);
  EXPECT_EQ(parse_uri("amqps://h").error(), errc::uri_tls_unsupported);
  EXPECT_EQ(parse_uri("amqp://h:0").error(), errc::uri_bad_port);
  EXPECT_EQ(parse_uri("amqp://h:65536").error(), errc::uri_bad_port);
  EXPECT_EQ(parse_uri("amqp://h:56x").error(), errc::uri_bad_port);
  EXPECT_EQ(parse_uri("amqp://h/%2").error(), errc::uri_bad_escape);
  EXPECT_EQ(parse_uri("amqp://h/%zz").error(), errc::uri_bad_escape);
  EXPECT_EQ(parse_uri("amqp://h/a/b").error(), errc::uri_vhost_has_slash);
  EXPECT_EQ(parse_uri("amqp://h/v?heartbeat=5").error(), errc::uri_query_unsupported);
  EXPECT_EQ(parse_uri("amqp://:5672/").error(), errc::uri_empty_host);
}

TEST(Uri, AnEmptyPortMeansTheDefault) {
  const auto u = parse_uri("amqp://h:/v");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->port, 5672);
}

TEST(Uri, ErrorsHaveReadableMessages) {
  EXPECT_NE(make_error_code(errc::uri_bad_port).message().find("port"), std::string::npos);
  EXPECT_STREQ(perf_category().name(), "perf");
}

TEST(Loopback, AcceptsOnlyLoopbackTargets) {
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("192.168.1.1"));
  EXPECT_FALSE(is_loopback_host("::2"));
  EXPECT_FALSE(is_loopback_host("example.com"));
  EXPECT_FALSE(is_loopback_host("localhost.example.com"));
  EXPECT_FALSE(is_loopback_host(""));
}

}  // namespace
}  // namespace haremq::perf
