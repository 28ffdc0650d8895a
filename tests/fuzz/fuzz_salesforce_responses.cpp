// Fuzzes the Salesforce client's response decoders (clients/salesforce_client.h):
// the token answer and R1-R8 answers, including error bodies, paging and the
// several shapes R5 may answer with.
//
// Input: byte 0 picks the HTTP status and a Retry-After header; the rest is the
// body of every answer. Logins run on a client of their own; the other calls share
// one, as the rotations of a connection do.
#include <cstdint>
#include <set>
#include <string>

#include "clients/salesforce_client.h"
#include "tests/fuzz/fake_transport.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using eca::fuzz::FakeTransport;
using eca::fuzz::FuzzAnswer;

constexpr std::string_view kGoodToken = R"({"access_token":"00Dfuzz!token","token_type":"Bearer"})";
const std::string kApp = "0xIKj0000004CwxKAE";
const std::string kConsumer = "888Kj0000004CwxKAE";
const std::string kStaged = "0YvKj0000004CwxKAE";

eca::SalesforceEndpoint endpoint() {
  eca::SalesforceEndpoint ep;
  ep.name = "acme";
  ep.my_domain_url = "https://acme.my.salesforce.com/";
  ep.client_id = "3MVGconnection";
  ep.client_secret = eca::Secret("connection-secret");
  return ep;
}

void check_error(const eca::Error& e) {
  ECA_FUZZ_CHECK(!e.message.empty());
  ECA_FUZZ_CHECK(e.code.size() <= 64);  // service codes are cut before they reach logs
}

template <class R>
void check(const R& r) {
  if (!r) check_error(r.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool initialized = [] {
    eca::fuzz::init_sodium();
    return true;
  }();
  (void)initialized;
  const FuzzAnswer answer = FuzzAnswer::from_input(eca::fuzz::as_view(data, size));
  const bool success = answer.status >= 200 && answer.status < 300;

  // R1-R8 share one client, as the rotations of a connection do: it logs in once
  // (answers carrying a token) and again after each 401. Secrets live in guarded
  // pages that are costly to map and unmap, so fewer logins mean more executions.
  {
    FakeTransport t(answer, "sf.token", kGoodToken);
    eca::SalesforceClient c(t, endpoint());
    {
      auto r = c.apps();
      check(r);
      if (r) {
        std::set<std::string> ids;
        for (const auto& app : *r) ECA_FUZZ_CHECK(ids.insert(app.id).second);
      }
    }
    {
      auto r = c.consumers(kApp);
      check(r);
      if (r) {
        std::set<std::string> ids;
        for (const auto& con : *r) ECA_FUZZ_CHECK(ids.insert(con.id).second);
      }
    }
    {
      auto r = c.read_primary(kApp, kConsumer);
      check(r);
      if (r) ECA_FUZZ_CHECK(answer.status == 200);
    }
    {
      auto r = c.staged(kApp, kConsumer);
      check(r);
      if (r) ECA_FUZZ_CHECK(answer.status == 200);
    }
    {
      auto r = c.stage(kApp, kConsumer);
      check(r);
      const bool created = answer.status == 200 || answer.status == 201;
      if (r) ECA_FUZZ_CHECK(!r->secret.empty() && created);
      // An answer saying "created" that we could not read: the credential may exist.
      if (!r && created) ECA_FUZZ_CHECK(r.error().kind == eca::ErrorKind::Unknown);
    }
    {
      auto r = c.promote(kApp, kConsumer, kStaged);
      check(r);
      ECA_FUZZ_CHECK(r.ok() == success);
    }
    {
      auto r = c.revoke(kApp, kConsumer, kStaged);
      check(r);
      ECA_FUZZ_CHECK(r.ok() == (success || answer.status == 404));
    }
    // Paging is capped at 50 pages (only 200 answers page); any other call is at
    // most login, request, re-login after a 401, request.
    ECA_FUZZ_CHECK(t.requests() <= 1 + 50 + 50 + 5 * 3);
  }
  {
    FakeTransport t(answer, "sf.token", kGoodToken);
    t.fuzz_login(true);
    eca::SalesforceClient c(t, endpoint());
    auto r = c.verify(eca::Secret("3MVGnewkey"), eca::Secret("new-secret"));
    check(r);
    if (r) ECA_FUZZ_CHECK(answer.status == 200);
  }
  {
    FakeTransport t(answer, "sf.token", kGoodToken);
    t.fuzz_login(true);
    eca::SalesforceClient c(t, endpoint());
    auto r = c.authenticate();
    check(r);
    if (r) ECA_FUZZ_CHECK(answer.status == 200);
    // With the token answer fuzzed too, a REST call exercises the 401 re-login path.
    check(c.staged(kApp, kConsumer));
  }
  return 0;
}
