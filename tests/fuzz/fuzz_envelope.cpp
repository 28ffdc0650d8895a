// Fuzzes opening sealed envelopes (crypto/envelope.h, what `eca-rotator open`
// and consumers run on a value read from Infisical), with a fixed key pair.
//
// Input: the envelope text (ecr1 or the multi-recipient ecr2). Also checks that sealing
// the input as plaintext, to one and to several recipients, and opening the result with
// each recipient's key gives the input back.
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

  // The key ids a reader reports are those of a well-formed envelope only.
  const auto ids = eca::envelope_key_ids(in);
  ECA_FUZZ_CHECK(ids.size() <= eca::kMaxRecipients);
  if (opened) ECA_FUZZ_CHECK(!ids.empty());

  auto multi = eca::Sealer::from_public_keys({k.second_public_b64, k.public_b64});
  ECA_FUZZ_CHECK(multi.ok());
  const std::string sealed2 = multi->seal(in);
  ECA_FUZZ_CHECK(sealed2.rfind("ecr2:", 0) == 0 && eca::envelope_key_ids(sealed2).size() == 2);
  ECA_FUZZ_CHECK(sealed2.find_first_of(" \t\r\n") == std::string::npos &&
                 sealed2.find("${") == std::string::npos);
  auto back1 = eca::open_envelope(sealed2, k.private_b64);
  auto back2 = eca::open_envelope(sealed2, k.second_private_b64);
  ECA_FUZZ_CHECK(back1.ok() && back1->view() == in && back2.ok() && back2->view() == in);
  return 0;
}
