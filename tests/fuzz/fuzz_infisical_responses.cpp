// Fuzzes the Infisical client's response decoders (clients/infisical_client.h):
// login and token renewal (lifetimes from the answer), listing a folder (values and
// metadata), batch upsert (approval answers, missing folders) and their error bodies.
//
// Input: byte 0 picks the HTTP status and a Retry-After header; the rest is the
// body of every answer. Logins run on a client of their own; the other calls share
// one, as the rotations of a connection do.
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "clients/infisical_client.h"
#include "tests/fuzz/fake_transport.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using eca::fuzz::FakeTransport;
using eca::fuzz::FuzzAnswer;

constexpr std::string_view kGoodLogin =
    R"({"accessToken":"fuzz-token","expiresIn":2592000,"accessTokenMaxTTL":2592000,"tokenType":"Bearer"})";
const std::string kPath = "/salesforce/billing";

eca::InfisicalEndpoint endpoint() {
  eca::InfisicalEndpoint ep;
  ep.url = "https://infisical.example.com";
  ep.project_id = "c8ea361a-dfc2-474b-9280-2eded4cb3adf";
  ep.environment = "prod";
  ep.client_id = "ecdfc85d-b7aa-4025-849f-fb6ae1e1fa29";
  ep.client_secret = eca::Secret("identity-secret");
  return ep;
}

// A clock that moves 20 days forward at every reading (the default token TTL is 30 days).
// Moves 20 days per reading while `*stepping` is true, stands still otherwise.
eca::InfisicalClient::Now stepping_clock(std::shared_ptr<bool> stepping) {
  auto t = std::make_shared<std::chrono::system_clock::time_point>(
      std::chrono::sys_days{std::chrono::year{2026} / 11 / 27});
  return [t, stepping] { return *stepping ? *t += std::chrono::hours(24 * 20) : *t; };
}

// A well-formed answer announcing an approval request instead of the written
// secrets. (A 200 answer that is not valid JSON may be taken as written: the engine
// reads the folder back whenever the answer does not echo the values.)
bool is_approval_request(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                       body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("approval")) return false;
  return doc["approval"].IsObject() && !(doc.HasMember("secrets") && doc["secrets"].IsArray());
}

void check_error(const eca::Error& e) {
  ECA_FUZZ_CHECK(!e.message.empty());
  ECA_FUZZ_CHECK(e.request_id.size() <= 64 && e.code.size() <= 160);
  if (e.http_status == 429) ECA_FUZZ_CHECK(e.retry_after.count() > 0);  // never hot-loop
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

  {
    FakeTransport t(answer, "inf.login", kGoodLogin);
    t.fuzz_login(true);
    auto stepping = std::make_shared<bool>(true);
    eca::InfisicalClient c(t, endpoint(), stepping_clock(stepping));
    auto r = c.login();
    check(r);
    if (r) {
      ECA_FUZZ_CHECK(answer.status == 200);
      // The answer's expiresIn / accessTokenMaxTTL drive renewal: the clock moves 20 days
      // per reading, so the next call renews (answered with the same body) or logs in again.
      check(c.list(kPath));
      check(c.renew());
    }
    if (!r && (answer.status == 401 || answer.status == 403 || answer.status == 404)) {
      // A refused login pauses further logins (the server locks identities) for minutes
      // of the client's clock: stop it, so that the pause is still on.
      *stepping = false;
      int before = t.requests();
      auto again = c.login();
      ECA_FUZZ_CHECK(!again && again.error().kind == eca::ErrorKind::Auth &&
                     t.requests() == before);
    }
  }
  // The routes share one client, as the rotations do: it logs in once and again
  // after each refused token (fewer guarded-memory Secrets, more executions).
  {
    FakeTransport t(answer, "inf.login", kGoodLogin);
    eca::InfisicalClient c(t, endpoint());
    {
      auto r = c.list(kPath);
      check(r);
      if (r) ECA_FUZZ_CHECK(answer.status == 200);
    }
    {
      // The streaming reader of recursive answers: only a 200 lists anything.
      int listed = 0;
      auto r = c.list_recursive(kPath, [&](eca::ListedSecret&&) { ++listed; });
      check(r);
      if (r || listed > 0) ECA_FUZZ_CHECK(answer.status == 200);
    }
    {
      std::vector<eca::SecretWrite> writes(2);
      writes[0].name = "SALESFORCE_CONSUMER_KEY";
      writes[0].value = eca::Secret("ecr1:x25519-sealedbox:0123456789abcdef:AAAA");
      writes[0].metadata = {{"eca-rotator.fingerprint", "abc"}, {"eca-rotator.generation", "3"}};
      writes[1].name = "SALESFORCE_CONSUMER_SECRET";
      writes[1].value = eca::Secret("ecr1:x25519-sealedbox:0123456789abcdef:BBBB");
      const int before = t.requests();
      std::vector<eca::StoredSecret> echoed;
      auto r = c.upsert(kPath, writes, &echoed);
      check(r);
      // Only a 200 that is not an approval request is a publish.
      if (r) ECA_FUZZ_CHECK(answer.status == 200 && !is_approval_request(answer.body));
      if (!r) ECA_FUZZ_CHECK(echoed.empty());
      // Upsert, create the folder, upsert again: each may log in again once.
      ECA_FUZZ_CHECK(t.requests() - before <= 3 * 2);
    }
    check(c.create_folder("/salesforce/billing/nested"));
  }
  return 0;
}
