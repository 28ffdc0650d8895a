// InfisicalApi: the calls the rotation engine makes on Infisical (the public methods of
// InfisicalClient), so engine tests can put an in-memory Infisical behind it.
//
// StoredSecret and SecretWrite are defined in infisical_client.h next to the client that
// produces them; they are only named here, so this header stays free of the client's
// internals (its routes change independently of what the engine asks of it).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace eca {

struct StoredSecret;
struct ListedSecret;
struct SecretWrite;

class InfisicalApi {
 public:
  virtual ~InfisicalApi() = default;

  virtual Status login() = 0;
  virtual Status renew() = 0;
  // Secrets in one folder (not recursive). A missing folder is an empty list.
  virtual Result<std::vector<StoredSecret>> list(const std::string& path) = 0;
  // One batch upsert of all `writes` (a key and its secret change together), creating the
  // folder when it is missing. An approval answer is an error: nothing was written.
  // `echoed` (optional) receives what the server says it stored (values, not metadata).
  virtual Status upsert(const std::string& path, std::vector<SecretWrite>& writes,
                        std::vector<StoredSecret>* echoed = nullptr) = 0;
  virtual Status create_folder(const std::string& path) = 0;
  // Whether the configured project and environment exist, by listing the folders at "/"
  // (a secrets list cannot tell: it answers 200 with no secrets for an unknown environment).
  // An unknown environment or project is a permanent error naming the config key to fix.
  virtual Status probe_environment() = 0;
  // Secrets in `path` and every folder below it, each with its folder (one request; see
  // InfisicalClient::list_recursive), handed to `each` one at a time as the answer is read:
  // a burst's answer holds thousands, which are never all kept. After an error `each` may
  // have seen part of the answer; callers drop it. A client that cannot answers an error and
  // callers list each folder on their own.
  // (Defined in infisical_client.cpp, where ListedSecret is complete.)
  using EachListed = std::function<void(ListedSecret&&)>;
  virtual Status list_recursive(const std::string& path, const EachListed& each);
  // Every folder below `path`, recursively, as absolute paths (one request); a client that
  // cannot tell answers an error and callers go on without it.
  virtual Result<std::vector<std::string>> list_folders_recursive(const std::string& path) {
    (void)path;
    return Error::permanent("this Infisical client cannot list folders");
  }
};

}  // namespace eca
