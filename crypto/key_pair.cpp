#include "crypto/key_pair.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace eca {
namespace {

std::string to_b64(const unsigned char* data, std::size_t len) {
  std::string out(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Status write_file_exclusive(const std::filesystem::path& path, std::string_view content,
                            mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Error::permanent("cannot create " + path.string() + ": " + std::strerror(errno) +
                            (errno == EEXIST ? " (refusing to overwrite an existing key)" : ""));
  }
  ::fchmod(fd, mode);  // the umask must not widen or narrow what we promise
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Error::permanent("cannot write " + path.string() + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Error::permanent("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return ok_status();
}

}  // namespace

KeyPair generate_key_pair() {
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  Secret sk = Secret::zeroed(crypto_box_SECRETKEYBYTES);
  crypto_box_keypair(pk, reinterpret_cast<unsigned char*>(sk.data()));
  KeyPair kp;
  kp.public_key_b64 = to_b64(pk, sizeof pk);
  Secret b64 = Secret::zeroed(sodium_base64_ENCODED_LEN(sk.size(), sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(b64.data(), b64.size() + 1, reinterpret_cast<const unsigned char*>(sk.data()),
                    sk.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.truncate(std::strlen(b64.c_str()));
  kp.private_key_b64 = std::move(b64);
  return kp;
}

std::string key_id(const std::string& public_key_raw) {
  unsigned char h[8];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(public_key_raw.data()),
                     public_key_raw.size(), nullptr, 0);
  char hex[sizeof h * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

Result<std::string> decode_key_b64(std::string_view b64, std::size_t expected_len,
                                   const char* what) {
  std::string raw(expected_len + 1, '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), b64.data(),
                        b64.size(), " \t\r\n", &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size() || len != expected_len) {
    sodium_memzero(raw.data(), raw.size());
    return Error::permanent(std::string(what) + " is not standard base64 of " +
                            std::to_string(expected_len) + " bytes");
  }
  raw.resize(len);
  return raw;
}

Status write_key_pair(const KeyPair& kp, const std::filesystem::path& private_path) {
  std::filesystem::path pub = private_path;
  pub += ".pub";
  std::error_code ec;
  if (std::filesystem::exists(pub, ec)) {
    return Error::permanent("cannot create " + pub.string() +
                            ": file exists (refusing to overwrite an existing key)");
  }
  Secret content = kp.private_key_b64.clone();
  content.append("\n");
  if (auto st = write_file_exclusive(private_path, content.view(), 0600); !st) return st;
  return write_file_exclusive(pub, kp.public_key_b64 + "\n", 0644);
}

Result<Secret> read_private_key(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error::permanent("cannot read private key " + path.string() + ": " +
                            std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return Error::permanent("private key " + path.string() +
                            " is accessible by group or others; run: chmod 600 " + path.string());
  }
  Secret buf = Secret::zeroed(4096);
  std::size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data() + got, 4096 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
    if (got == 4096) break;
  }
  ::close(fd);
  std::string_view v(buf.data(), got);
  while (!v.empty() && std::strchr(" \t\r\n", v.back()) != nullptr) v.remove_suffix(1);
  while (!v.empty() && std::strchr(" \t\r\n", v.front()) != nullptr) v.remove_prefix(1);
  Secret key(v);
  auto raw = decode_key_b64(key.view(), crypto_box_SECRETKEYBYTES, "private key");
  if (!raw) return Error::permanent(path.string() + ": " + raw.error().message);
  wipe_string(raw.value());
  return key;
}

}  // namespace eca
