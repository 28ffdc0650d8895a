#include "crypto/sigv4.h"

#include <gtest/gtest.h>

namespace eca {
namespace {

// AWS's published Signature Version 4 test suite ("aws-sig-v4-test-suite"): every vector
// signs with these credentials, region and service, at 2015-08-30 12:36:00 UTC.
constexpr const char* kKeyId = "AKIDEXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

SigV4Request vector_request(const std::string& method) {
  SigV4Request r;
  r.method = method;
  r.region = "us-east-1";
  r.service = "service";
  r.amz_date = "20150830T123600Z";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", r.amz_date}};
  return r;
}

std::string prefix(const std::string& signed_headers) {
  return std::string("AWS4-HMAC-SHA256 Credential=") + kKeyId +
         "/20150830/us-east-1/service/aws4_request, SignedHeaders=" + signed_headers +
         ", Signature=";
}

TEST(SigV4, GetVanillaCanonicalRequestAndStringToSign) {
  SigV4Request r = vector_request("GET");
  EXPECT_EQ(sigv4_canonical_request(r),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sigv4_string_to_sign(r),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(sigv4_authorization(r, kKeyId, kSecret),
            prefix("host;x-amz-date") +
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, PostVanillaQuery) {
  SigV4Request r = vector_request("POST");
  r.query = {{"Param1", "value1"}};
  EXPECT_EQ(sigv4_authorization(r, kKeyId, kSecret),
            prefix("host;x-amz-date") +
                "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

TEST(SigV4, QueryIsSortedByEncodedName) {
  SigV4Request r = vector_request("GET");
  r.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  EXPECT_EQ(sigv4_authorization(r, kKeyId, kSecret),
            prefix("host;x-amz-date") +
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, HeaderValuesAreTrimmedAndKeyCaseIgnored) {
  SigV4Request r = vector_request("GET");
  r.headers.emplace_back("My-Header1", "value1");
  r.headers.emplace_back("my-header2", "\"a   b   c\"");
  EXPECT_EQ(sigv4_authorization(r, kKeyId, kSecret),
            prefix("host;my-header1;my-header2;x-amz-date") +
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

TEST(SigV4, FormBodyIsSignedThroughItsHash) {
  SigV4Request r = vector_request("POST");
  r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  r.body = "Param1=value1";
  EXPECT_EQ(sigv4_authorization(r, kKeyId, kSecret),
            prefix("content-type;host;x-amz-date") +
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST(SigV4, AnyChangeGivesAnotherSignature) {
  SigV4Request r = vector_request("POST");
  r.body = "Action=GetCallerIdentity&Version=2011-06-15";
  const std::string base = sigv4_signature(r, kSecret);
  SigV4Request other_region = r;
  other_region.region = "eu-west-1";
  SigV4Request other_body = r;
  other_body.body += "&x=1";
  SigV4Request other_date = r;
  other_date.amz_date = "20150830T123601Z";
  EXPECT_NE(sigv4_signature(other_region, kSecret), base);
  EXPECT_NE(sigv4_signature(other_body, kSecret), base);
  EXPECT_NE(sigv4_signature(other_date, kSecret), base);
  EXPECT_NE(sigv4_signature(r, "another-secret"), base);
}

TEST(SigV4, AmzDateIsUtcBasicFormat) {
  EXPECT_EQ(amz_date(1440938160), "20150830T123600Z");
}

}  // namespace
}  // namespace eca
