// Several recipients with the real binary: each consumer's key opens its own box, and
// adding or removing a recipient publishes the same pair again for the new set of keys
// without a rotation at Salesforce and without moving the schedule.
#include <fstream>

#include "crypto/envelope.h"
#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

class RecipientsE2e : public E2eFixture {
 protected:
  KeyPair b_ = generate_key_pair();
  KeyPair c_ = generate_key_pair();

  // conf.d/recipients.toml appends keys to recipient_public_key (kp_); none: removed.
  void extra_recipients(const std::vector<const KeyPair*>& keys) {
    const auto dropin = dir_ / "conf.d" / "recipients.toml";
    if (keys.empty()) {
      std::filesystem::remove(dropin);
      return;
    }
    std::filesystem::create_directories(dropin.parent_path());
    std::string list;
    for (const KeyPair* k : keys) list += (list.empty() ? "\"" : ", \"") + k->public_key_b64 + "\"";
    std::ofstream(dropin) << "[encryption]\nrecipient_public_keys = [" << list << "]\n";
  }

  sandbox::StoredSecret held_key() const {
    return *sb_->infisical().secret(sb_->project_id(), "prod", "/salesforce/app-1",
                                    sandbox::Sandbox::kKeyName);
  }

  static std::string id_of(const KeyPair& k) {
    auto raw = decode_key_b64(k.public_key_b64, 32, "test key");
    return raw ? key_id(raw.value()) : std::string();
  }

  // The pair at app-1 opened with `k`, or nullopt.
  std::optional<std::string> opened_key(const KeyPair& k) const {
    auto v = open_envelope(held_key().value, k.private_key_b64);
    if (!v) return std::nullopt;
    return std::string(v->view());
  }
};

TEST_F(RecipientsE2e, AddingAndRemovingARecipientRepublishesWithoutRotating) {
  ASSERT_EQ(run({"run", "--once", "--no-progress"}).exit_code, 0);
  const std::string key =
      sb_->salesforce()
          .primary(sb_->target_apps()[0].id, sb_->target_apps()[0].consumers[0].id)
          ->key;
  const auto first = held_key();
  ASSERT_EQ(first.value.rfind("ecr1:", 0), 0u) << "one recipient: the single-box envelope";
  const long promotes = sb_->salesforce().request_count("sf.promote");

  // Two consumers join: the next pass seals the same pair for all three keys.
  extra_recipients({&b_, &c_});
  auto added = run({"run", "--once", "--no-progress"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_THAT(added.err, HasSubstr("publishing the same pair again for them, without rotating"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), promotes) << "no rotation";
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), promotes) << "nothing staged";
  const auto three = held_key();
  EXPECT_EQ(three.value.rfind("ecr2:", 0), 0u);
  EXPECT_THAT(envelope_key_ids(three.value),
              UnorderedElementsAreArray({id_of(kp_), id_of(b_), id_of(c_)}));
  for (const KeyPair* k : {&kp_, &b_, &c_}) EXPECT_EQ(opened_key(*k), key);
  EXPECT_EQ(published(1)->secret,
            sb_->salesforce()
                .primary(sb_->target_apps()[0].id, sb_->target_apps()[0].consumers[0].id)
                ->secret);
  // Same generation and rotation time: the schedule does not move.
  for (const char* m :
       {"eca-rotator.generation", "eca-rotator.rotated-at", "eca-rotator.fingerprint"}) {
    EXPECT_EQ(three.metadata.at(m), first.metadata.at(m)) << m;
  }

  // Nothing changed since: the next pass publishes nothing.
  const int writes = sb_->infisical().write_count();
  ASSERT_EQ(run({"run", "--once", "--no-progress"}).exit_code, 0);
  EXPECT_EQ(sb_->infisical().write_count(), writes);

  // One consumer leaves: its key no longer opens the value.
  extra_recipients({&b_});
  ASSERT_EQ(run({"run", "--once", "--no-progress"}).exit_code, 0);
  EXPECT_EQ(opened_key(b_), key);
  EXPECT_EQ(opened_key(kp_), key);
  auto refused = open_envelope(held_key().value, c_.private_key_b64);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr(id_of(b_)));

  // Back to one recipient: the single-box envelope again, still no rotation.
  extra_recipients({});
  ASSERT_EQ(run({"run", "--once", "--no-progress"}).exit_code, 0);
  EXPECT_EQ(held_key().value.rfind("ecr1:", 0), 0u);
  EXPECT_EQ(opened_key(kp_), key);
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), promotes);
}

}  // namespace
}  // namespace eca::e2e
