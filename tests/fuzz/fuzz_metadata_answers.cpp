// Fuzzes the decoders of the cloud metadata services' answers and of workload tokens
// (clients/cloud_identity.h): IMDS role credentials, the instance identity document,
// Azure's token answer, and the `exp` claim of a JWT; then a whole login proof per
// metadata method with every metadata answer being the input.
//
// Input: byte 0 picks the HTTP status (as in fake_transport.h); the rest is the body.
#include <cstdint>
#include <string>

#include "clients/cloud_identity.h"
#include "tests/fuzz/fake_transport.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using eca::fuzz::FakeTransport;
using eca::fuzz::FuzzAnswer;

template <class R>
void check(const R& r) {
  if (!r) {
    ECA_FUZZ_CHECK(!r.error().message.empty());
    ECA_FUZZ_CHECK(r.error().message.size() < 4096);  // server text is cut before logs
  }
}

void prove(eca::InfisicalAuthMethod method, const FuzzAnswer& answer) {
  FakeTransport t(answer, "none", "");
  eca::CloudIdentitySettings s;
  s.method = method;
  s.identity_id = "0f1e2d3c-fuzz";
  s.metadata_url = "http://127.0.0.1:9";
  eca::CloudIdentity id(
      t, std::move(s),
      [](const std::string&) -> std::optional<std::string> { return std::nullopt; },
      [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)); });
  auto r = id.login_request();
  check(r);
  if (r) ECA_FUZZ_CHECK(r->body.view().front() == '{' && r->body.view().back() == '}');
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
    eca::Secret body(answer.body);
    check(eca::parse_imds_credentials(body));
  }
  {
    eca::Secret body(answer.body);
    auto r = eca::parse_identity_document_region(body);
    check(r);
    if (r)
      ECA_FUZZ_CHECK(r->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                     std::string::npos);
  }
  {
    eca::Secret body(answer.body);
    check(eca::parse_azure_token(body));
  }
  check(eca::jwt_expiry(answer.body));
  prove(eca::InfisicalAuthMethod::AwsIam, answer);
  prove(eca::InfisicalAuthMethod::GcpIdToken, answer);
  prove(eca::InfisicalAuthMethod::Azure, answer);
  return 0;
}
