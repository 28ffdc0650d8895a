#include "agent/delivery.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/hooks.h"
#include "agent/logger.h"
#include "agent/metrics.h"
#include "agent/rotation_engine.h"
#include "clients/infisical_client.h"
#include "crypto/envelope.h"
#include "crypto/fingerprint.h"

namespace eca {
namespace {

const StoredSecret* find_secret(const std::vector<StoredSecret>& folder, const std::string& name) {
  for (const auto& s : folder)
    if (s.name == name) return &s;
  return nullptr;
}

std::string meta_of(const StoredSecret& s, const char* key) {
  auto it = s.metadata.find(key);
  return it == s.metadata.end() ? std::string() : it->second;
}

// One value as the delivery expects it: sealed (opened with its key) or plain.
Result<Secret> open_value(const DeliverySettings& d, const StoredSecret& s) {
  const std::string where = d.secret_path + (d.secret_path == "/" ? "" : "/") + s.name;
  const bool sealed = looks_like_envelope(s.value.view());
  if (d.sealed && !sealed)
    return Error::permanent(where +
                            " holds a plain value where a sealed envelope was expected; "
                            "the publisher has [encryption] mode = \"none\", or set encryption = "
                            "\"none\" on this delivery");
  if (!d.sealed && sealed)
    return Error::permanent(where + " holds a sealed envelope (key ids " + [&] {
      std::string ids;
      for (const auto& id : envelope_key_ids(s.value.view())) ids += (ids.empty() ? "" : ", ") + id;
      return ids;
    }() + ") but this delivery has encryption = \"none\"; set private_key_file");
  if (!d.sealed) return s.value.clone();
  auto opened = open_envelope(s.value.view(), d.private_key);
  if (!opened)
    return Error::permanent(where + ": " + opened.error().message + " (private key from " +
                            d.private_key_source + ")");
  return opened;
}

// Shell-safe: single quotes, each ' written as '\''.
void append_shell_quoted(Secret& out, std::string_view v) {
  out.append("'");
  for (char c : v) out.append(c == '\'' ? std::string_view("'\\''") : std::string_view(&c, 1));
  out.append("'");
}

void append_json_string(Secret& out, std::string_view v) {
  out.append("\"");
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      const char esc[2] = {'\\', c};
      out.append(std::string_view(esc, 2));
    } else if (u < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out.append(esc);
    } else {
      out.append(std::string_view(&c, 1));
    }
  }
  out.append("\"");
}

// java.util.Properties escaping: backslash before the characters it treats specially.
void append_properties_value(Secret& out, std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '\\' || c == '=' || c == ':' || c == '#' || c == '!' || (c == ' ' && i == 0)) {
      const char esc[2] = {'\\', c};
      out.append(std::string_view(esc, 2));
    } else if (c == '\n' || c == '\r' || c == '\t' || c == '\f') {
      out.append(c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : "\\f");
    } else {
      out.append(std::string_view(&c, 1));
    }
  }
}

void render_template(const DeliverySettings& d, const OpenedPair& p, Secret& out) {
  const std::string& t = d.template_text;
  std::size_t from = 0;
  for (std::size_t at = t.find("{{"); at != std::string::npos; at = t.find("{{", from)) {
    out.append(std::string_view(t).substr(from, at - from));
    const std::size_t end = t.find("}}", at);
    const std::string_view name = std::string_view(t).substr(at + 2, end - at - 2);
    if (name == "key")
      out.append(p.key.view());
    else if (name == "secret")
      out.append(p.secret.view());
    else if (name == "generation")
      out.append(std::to_string(p.generation));
    else if (name == "rotated_at")
      out.append(p.rotated_at ? format_utc(*p.rotated_at) : "");
    from = end + 2;
  }
  out.append(std::string_view(t).substr(from));
}

}  // namespace

Result<OpenedPair> open_pair(const DeliverySettings& d, const std::vector<StoredSecret>& folder) {
  const StoredSecret* k = find_secret(folder, d.consumer_key_secret);
  const StoredSecret* s = find_secret(folder, d.consumer_secret_secret);
  if (!k || !s) {
    return Error::transient("no " +
                            std::string(!k ? d.consumer_key_secret : d.consumer_secret_secret) +
                            " in " + d.environment + ":" + d.secret_path +
                            " yet (not rotated yet, or the identity may not read it)");
  }
  // Both secrets are written in one batch with the same metadata; two generations side
  // by side mean a write in progress or a hand edit: never deliver half of each.
  const std::string gk = meta_of(*k, meta::kGeneration), gs = meta_of(*s, meta::kGeneration);
  if (gk != gs)
    return Error::transient(d.consumer_key_secret + " (generation " + gk + ") and " +
                            d.consumer_secret_secret + " (generation " + gs +
                            ") are of different rotations; keeping the previous file");
  auto key = open_value(d, *k);
  if (!key) return key.error();
  auto secret = open_value(d, *s);
  if (!secret) return secret.error();
  OpenedPair p;
  p.key = std::move(key.value());
  p.secret = std::move(secret.value());
  p.fingerprint = fingerprint(p.key.view());
  const std::string want = meta_of(*k, meta::kFingerprint);
  if (!want.empty() && want != p.fingerprint)
    return Error::permanent(d.consumer_key_secret +
                            " does not match the fingerprint in its metadata (" +
                            short_fingerprint(want) + "): edited by hand or tampered with");
  p.generation = std::atol(gk.c_str());
  TimePoint at;
  if (parse_timestamp(meta_of(*k, meta::kRotatedAt), at)) p.rotated_at = at;
  return p;
}

Secret render_delivery(const DeliverySettings& d, const OpenedPair& p) {
  Secret out;
  switch (d.format) {
    case DeliveryFormat::Env:
      for (auto [name, value] :
           {std::pair{&d.key_variable, &p.key}, std::pair{&d.secret_variable, &p.secret}}) {
        out.append(*name + "=");
        append_shell_quoted(out, value->view());
        out.append("\n");
      }
      break;
    case DeliveryFormat::Json:
      out.append("{");
      append_json_string(out, d.key_variable);
      out.append(": ");
      append_json_string(out, p.key.view());
      out.append(", ");
      append_json_string(out, d.secret_variable);
      out.append(": ");
      append_json_string(out, p.secret.view());
      out.append(", \"generation\": " + std::to_string(p.generation) + "}\n");
      break;
    case DeliveryFormat::Properties:
      for (auto [name, value] :
           {std::pair{&d.key_variable, &p.key}, std::pair{&d.secret_variable, &p.secret}}) {
        out.append(*name + "=");
        append_properties_value(out, value->view());
        out.append("\n");
      }
      break;
    case DeliveryFormat::Template:
      render_template(d, p, out);
      break;
  }
  return out;
}

namespace {

// `p` is a file, or with `is_dir` the directory the file goes to: the hint names the
// directory either way (the one ReadWritePaths= must list).
std::string errno_text(const std::string& what, const std::filesystem::path& p,
                       bool is_dir = false) {
  std::string s = what + " " + p.string() + ": " + std::strerror(errno);
  if (errno == EACCES || errno == EROFS || errno == EPERM)
    s += " (outside the runtime directory the service needs a drop-in with ReadWritePaths=" +
         (is_dir ? p : p.parent_path()).string() + "; see the README)";
  return s;
}

// Whether `path` holds exactly `content` (read into locked memory: it is the pair).
bool holds(const std::filesystem::path& path, const Secret& content, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  bool same = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              static_cast<std::size_t>(st.st_size) == content.size();
  if (same) {
    Secret buf = Secret::zeroed(content.size() + 1);
    std::size_t got = 0;
    for (ssize_t n; got <= content.size() &&
                    (n = ::read(fd, buf.data() + got, content.size() + 1 - got)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      got += static_cast<std::size_t>(n);
    }
    buf.truncate(got);
    same = buf.equals(content.view());
  }
  ::close(fd);
  return same;
}

Status set_attributes(int fd, const DeliverySettings& d, const std::filesystem::path& p) {
  if (d.chown && ::fchown(fd, d.uid, d.gid) != 0)
    return Error::permanent(errno_text("cannot chown", p));
  if (::fchmod(fd, d.mode) != 0) return Error::permanent(errno_text("cannot chmod", p));
  return ok_status();
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::permanent(std::string("write failed: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

}  // namespace

Result<bool> write_delivery_file(const DeliverySettings& d, const Secret& content) {
  struct stat st {};
  if (holds(d.path, content, st)) {
    // Same pair: keep the file (inode and mtime) and only repair its attributes.
    const bool owner_ok = !d.chown || ((d.uid == static_cast<uid_t>(-1) || st.st_uid == d.uid) &&
                                       (d.gid == static_cast<gid_t>(-1) || st.st_gid == d.gid));
    if (owner_ok && (st.st_mode & 07777) == d.mode) return false;
    int fd = ::open(d.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Error::permanent(errno_text("cannot open", d.path));
    Status s = set_attributes(fd, d, d.path);
    ::close(fd);
    if (!s) return s.error();
    return false;
  }
  const std::filesystem::path dir = d.path.parent_path();
  std::string tmp = (dir / ("." + d.path.filename().string() + ".XXXXXX")).string();
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Error::permanent(errno_text("cannot create a file in", dir, true));
  Status s = set_attributes(fd, d, d.path);
  if (s) s = write_all(fd, content.view());
  if (s && ::fsync(fd) != 0) s = Error::permanent(errno_text("cannot fsync", tmp));
  ::close(fd);
  if (s && ::rename(tmp.c_str(), d.path.c_str()) != 0)
    s = Error::permanent(errno_text("cannot rename over", d.path));
  if (!s) {
    ::unlink(tmp.c_str());
    return s.error();
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

Result<OpenedPair> fetch_pair(InfisicalApi& infisical, const DeliverySettings& d) {
  auto folder = infisical.list(d.secret_path);
  if (!folder) return folder.error();
  return open_pair(d, folder.value());
}

DeliveryService::DeliveryService(const std::vector<DeliverySettings>& deliveries, ClientFor clients,
                                 const Clock& clock, Logger& log, Metrics* metrics, Options options)
    : deliveries_(deliveries),
      clients_(std::move(clients)),
      clock_(clock),
      log_(log),
      metrics_(metrics),
      options_(std::move(options)),
      state_(deliveries.size()) {
  if (!options_.splay)
    options_.splay = [](int n) {
      return n > 0 ? static_cast<int>(randombytes_uniform(static_cast<uint32_t>(n))) : 0;
    };
  for (std::size_t i = 0; i < deliveries_.size(); ++i) publish_metrics(i);
}

DeliveryService::~DeliveryService() {
  stop();
}

TimePoint DeliveryService::tick() {
  const TimePoint now = clock_.now();
  // One listing per place, however many deliveries read it.
  std::map<std::string, std::vector<std::size_t>> due;
  for (std::size_t i = 0; i < deliveries_.size(); ++i) {
    const auto& d = deliveries_[i];
    if (state_[i].next_poll <= now)
      due[d.project_id + "\n" + d.environment + "\n" + d.secret_path].push_back(i);
  }
  for (const auto& [place, group] : due) poll_place(group, now);
  TimePoint next = TimePoint::max();
  for (std::size_t i = 0; i < deliveries_.size(); ++i) {
    run_hook_if_due(i, clock_.now());
    next = std::min(next, state_[i].next_poll);
    if (state_[i].hook_due) next = std::min(next, *state_[i].hook_due);
  }
  return next;
}

void DeliveryService::poll_place(const std::vector<std::size_t>& group, TimePoint now) {
  const DeliverySettings& first = deliveries_[group.front()];
  for (std::size_t i : group)
    state_[i].next_poll = now + std::chrono::seconds(deliveries_[i].poll_seconds);
  auto folder = clients_(first.project_id, first.environment).list(first.secret_path);
  for (std::size_t i : group) {
    if (!folder) {
      fail(i, "fetch",
           "cannot read " + first.environment + ":" + first.secret_path +
               " from Infisical: " + folder.error().describe());
      continue;
    }
    deliver(i, folder.value(), now);
  }
}

void DeliveryService::deliver(std::size_t i, const std::vector<StoredSecret>& folder,
                              TimePoint now) {
  const DeliverySettings& d = deliveries_[i];
  State& s = state_[i];
  auto pair = open_pair(d, folder);
  if (!pair)
    return fail(i, "open",
                pair.error().describe() + "; " + d.path.string() + " keeps its previous content");
  Secret content = render_delivery(d, pair.value());
  auto written = write_delivery_file(d, content);
  if (!written)
    return fail(i, "write", written.error().message + "; the previous file stays in place");
  if (written.value()) {
    log_.info(d.name, "deliver",
              "wrote generation " + std::to_string(pair->generation) + " (key " +
                  short_fingerprint(pair->fingerprint) + ") to " + d.path.string());
  }
  if (!d.on_change.empty() && (written.value() || !s.rendered)) {
    // Debounce: a change while a run is pending moves it, so a burst runs the hook once.
    const auto delay = std::chrono::seconds(d.debounce_seconds + options_.splay(d.splay_seconds));
    s.hook_due = s.hook_due ? std::max(*s.hook_due, now + std::chrono::seconds(d.debounce_seconds))
                            : now + delay;
  }
  s.rendered = true;
  s.generation = pair->generation;
  s.fingerprint = pair->fingerprint;
  s.source_changed = pair->rotated_at;
  if (!s.last_error.empty())
    log_.info(d.name, "deliver", "delivering again after: " + s.last_error);
  s.last_error.clear();
  s.behind_since.reset();
  publish_metrics(i);
}

void DeliveryService::fail(std::size_t i, const std::string& stage, const std::string& message) {
  State& s = state_[i];
  if (message != s.last_error)
    log_.error(deliveries_[i].name, "deliver", message);  // once per distinct error
  s.last_error = message;
  s.error_stage = stage;
  if (!s.behind_since) s.behind_since = clock_.now();
  publish_metrics(i);
}

void DeliveryService::run_hook_if_due(std::size_t i, TimePoint now) {
  State& s = state_[i];
  if (!s.hook_due || *s.hook_due > now) return;
  s.hook_due.reset();
  const DeliverySettings& d = deliveries_[i];
  HookJob job{d.name,
              d.on_change,
              {
                  {"ECA_DELIVERY", d.name},
                  {"ECA_DELIVERY_PATH", d.path.string()},
                  {"ECA_GENERATION", std::to_string(s.generation)},
                  {"ECA_KEY_FINGERPRINT", s.fingerprint},
              },
              s.generation};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (hooks_on_thread_) {
      hooks_.push_back(std::move(job));
      hooks_cv_.notify_one();
      return;
    }
  }
  run_hook(job);
}

void DeliveryService::run_hook(const HookJob& job) {
  std::string err = run_argv_hook(job.argv, job.env, options_.hook_timeout);
  if (!err.empty()) {
    log_.warn(job.delivery, "hook", "on_change " + job.argv.front() + ": " + err);
  } else {
    log_.info(
        job.delivery, "hook",
        "on_change " + job.argv.front() + " ran for generation " + std::to_string(job.generation));
  }
}

void DeliveryService::publish_metrics(std::size_t i) {
  if (metrics_ == nullptr) return;
  const DeliverySettings& d = deliveries_[i];
  State& s = state_[i];
  Metrics::DeliveryState m;
  m.generation = s.generation;
  m.source_changed = s.source_changed;
  m.behind_since = s.last_error.empty() ? std::nullopt : s.behind_since;
  m.max_lag =
      std::chrono::seconds(static_cast<long>(d.source_interval_days * 86400.0 * d.max_lag_share));
  m.error_stage = s.last_error.empty() ? "" : s.error_stage;
  metrics_->set_delivery(d.name, m);
}

int DeliveryService::failing() const {
  int n = 0;
  for (const auto& s : state_) n += s.last_error.empty() ? 0 : 1;
  return n;
}

void DeliveryService::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    hooks_on_thread_ = true;
  }
  hook_thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      // wait_for, not wait: std::condition_variable::wait(unique_lock&) is versioned
      // GLIBCXX_3.4.30, newer than RHEL 9's libstdc++ (packaging/check-deps.sh).
      while (!stop_ && hooks_.empty()) hooks_cv_.wait_for(lock, std::chrono::seconds(1));
      if (stop_) break;
      HookJob job = std::move(hooks_.front());
      hooks_.pop_front();
      lock.unlock();
      run_hook(job);  // bounded by hook_timeout; stop() waits for it
      lock.lock();
    }
    for (const auto& job : hooks_) {
      log_.warn(job.delivery, "hook",
                "on_change " + job.argv.front() + " for generation " +
                    std::to_string(job.generation) + " not run: the agent is stopping");
    }
    hooks_.clear();
  });
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      const TimePoint next = tick();
      lock.lock();
      // Capped at a second: the agent's clock may be a test clock the kernel knows nothing of.
      auto wait = std::min<std::chrono::system_clock::duration>(next - clock_.now(),
                                                                std::chrono::seconds(1));
      if (wait > std::chrono::system_clock::duration::zero())
        cv_.wait_for(lock, wait, [this] { return stop_; });
    }
  });
}

void DeliveryService::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  hooks_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (hook_thread_.joinable()) hook_thread_.join();
}

}  // namespace eca
