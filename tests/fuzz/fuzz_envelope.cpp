// Fuzzes opening sealed envelopes (crypto/envelope.h, what `eca-rotator open`
// and consumers run on a value read from Infisical), with a fixed key pair.
//
// Input: the envelope text. Also checks that sealing the input as plaintext and
// opening the result gives the input back.
#include <cstdint>
#include <string>

#include "crypto/envelope.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const eca::fuzz::EnvelopeKeys& keys() {
  static const eca::fuzz::EnvelopeKeys k = [] {
    eca::fuzz::init_sodium();
    return eca::fuzz::envelope_keys();
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& k = keys();
  const std::string_view in = eca::fuzz::as_view(data, size);

  auto opened = eca::open_envelope(in, k.private_b64);
  if (opened) {
    ECA_FUZZ_CHECK(eca::looks_like_envelope(in));
  } else {
    ECA_FUZZ_CHECK(!opened.error().message.empty());
  }

  auto sealer = eca::Sealer::from_public_key(k.public_b64);
  ECA_FUZZ_CHECK(sealer.ok());
  const std::string sealed = sealer->seal(in);
  ECA_FUZZ_CHECK(eca::looks_like_envelope(sealed));
  // Infisical trims values and rejects "${" references: an envelope has neither issue.
  ECA_FUZZ_CHECK(sealed.find_first_of(" \t\r\n") == std::string::npos &&
                 sealed.find("${") == std::string::npos);
  auto back = eca::open_envelope(sealed, k.private_b64);
  ECA_FUZZ_CHECK(back.ok() && back->view() == in);
  return 0;
}
