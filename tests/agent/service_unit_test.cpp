// The packaged systemd unit must let a cloud-identity login reach the link-local
// metadata services: no blanket IP deny without an allowance for them, no private
// network, IPv4 sockets allowed.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string unit_text() {
  std::ifstream in(std::string(ECA_SOURCE_DIR) + "/packaging/eca-rotator.service");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Values of the uncommented `Key=` lines.
std::string directive(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + "=", 0) == 0) out += line.substr(key.size() + 1) + " ";
  }
  return out;
}

TEST(ServiceUnit, ReachesTheCloudMetadataServices) {
  const std::string unit = unit_text();
  ASSERT_FALSE(unit.empty());
  const std::string deny = directive(unit, "IPAddressDeny");
  if (!deny.empty()) {
    EXPECT_NE(directive(unit, "IPAddressAllow").find("169.254.169.254"), std::string::npos)
        << "IPAddressDeny= without an allowance for the metadata address";
  }
  EXPECT_EQ(directive(unit, "PrivateNetwork").find("yes"), std::string::npos);
  EXPECT_NE(directive(unit, "RestrictAddressFamilies").find("AF_INET "), std::string::npos);
}

}  // namespace
