// HTTPS with a certificate (a throwaway self-signed one made with the openssl CLI), and plain HTTP
// refused on a non-loopback address.
#include <gtest/gtest.h>

#include "server_harness.h"

namespace idm {
namespace {

TEST(ServerTls, ServesHttpsWithACertificate) {
  if (::access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "openssl CLI not installed";
  test::ScopedTempDir dir;
  const test::ProcResult gen = test::Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                          "-nodes", "-keyout", dir.File("key.pem"), "-out", dir.File("cert.pem"), "-days", "1",
                                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string key = test::AddOperator(dir.File("data"), "shop");
  test::ServerProcess server(dir.File("data"), {"--tls-cert", dir.File("cert.pem"), "--tls-key", dir.File("key.pem")});
  ASSERT_TRUE(server.ok()) << server.Stderr();
  httplib::SSLClient c("127.0.0.1", server.port());
  c.set_ca_cert_path(dir.File("cert.pem").c_str());
  c.enable_server_certificate_verification(true);
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h) << httplib::to_string(h.error());
  EXPECT_EQ(h->status, 200);
  auto s = c.Post("/v1/sessions", {{"Authorization", "Bearer " + key}}, "", "application/json");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 201) << s->body;
  // Plain HTTP to the TLS port gets no HTTP answer.
  httplib::Client plain("127.0.0.1", server.port());
  plain.set_read_timeout(5, 0);
  auto p = plain.Get("/healthz");
  EXPECT_TRUE(!p || p->status != 200);
  EXPECT_EQ(server.Stop(), 0);
}

TEST(ServerTls, PlainHttpOnlyOnLoopback) {
  test::ScopedTempDir dir;
  const test::ProcResult r = test::RunIdmatch({"serve", "--listen", "0.0.0.0:0", "--data-dir", dir.File("data")});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("loopback"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace idm
