#include "loa/controller/provision.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"

extern char** environ;

namespace loa::controller {
namespace {

namespace fs = std::filesystem;
namespace topics = protocol::topics;

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// PBKDF2-HMAC-SHA512 with a 64-byte output: a single block (RFC 8018, section 5.2).
std::array<unsigned char, 64> pbkdf2_sha512(std::string_view password, const protocol::Bytes& salt,
                                            int iterations) {
  const auto* key = reinterpret_cast<const unsigned char*>(password.data());
  std::array<unsigned char, 64> u{};
  std::array<unsigned char, 64> t{};
  crypto_auth_hmacsha512_state st;
  crypto_auth_hmacsha512_init(&st, key, password.size());
  crypto_auth_hmacsha512_update(&st, salt.data(), salt.size());
  const unsigned char block_index[4] = {0, 0, 0, 1};
  crypto_auth_hmacsha512_update(&st, block_index, sizeof block_index);
  crypto_auth_hmacsha512_final(&st, u.data());
  t = u;
  for (int i = 1; i < iterations; ++i) {
    crypto_auth_hmacsha512_init(&st, key, password.size());
    crypto_auth_hmacsha512_update(&st, u.data(), u.size());
    crypto_auth_hmacsha512_final(&st, u.data());
    for (std::size_t k = 0; k < t.size(); ++k) t[k] ^= u[k];
  }
  sodium_memzero(&st, sizeof st);
  return t;
}

Result<std::string> read_text(const std::string& path, bool missing_is_empty) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (missing_is_empty && errno == ENOENT) return std::string();
    return make_error("'" + path + "': cannot read: " + std::strerror(errno));
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Replaces `path` atomically: a temporary file beside it (same mode, owner and group as the old
// file, or `new_mode`), fsync, rename. Keeping the group matters: the broker reads its password
// and ACL files as its own user through the group (root:mosquitto 0640).
Status write_atomically(const std::string& path, const std::string& text, mode_t new_mode) {
  mode_t mode = new_mode;
  struct stat old {};
  const bool existed = ::stat(path.c_str(), &old) == 0;
  if (existed) mode = old.st_mode & 07777;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return make_error("'" + tmp + "': cannot create: " + std::strerror(errno));
  ::fchmod(fd, mode);  // not narrowed by the umask
  if (existed && (old.st_uid != ::geteuid() || old.st_gid != ::getegid()) &&
      ::fchown(fd, old.st_uid, old.st_gid) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error("'" + path +
                      "': cannot keep its owner and group (run as root?): " + std::strerror(err));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error("'" + tmp + "': write: " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return make_error("'" + tmp + "': fsync: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return make_error("'" + path + "': rename: " + std::strerror(err));
  }
  return {};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string begin_marker(std::string_view node_id) {
  return "# BEGIN loa node " + std::string(node_id);
}
std::string end_marker(std::string_view node_id) {
  return "# END loa node " + std::string(node_id);
}

// Removes the node's marked block; returns whether there was one.
bool drop_block(std::vector<std::string>& lines, std::string_view node_id) {
  const std::string b = begin_marker(node_id);
  const std::string e = end_marker(node_id);
  std::vector<std::string> kept;
  bool inside = false;
  bool found = false;
  for (auto& l : lines) {
    if (!inside && l == b) {
      inside = found = true;
      continue;
    }
    if (inside) {
      if (l == e) inside = false;
      continue;
    }
    kept.push_back(std::move(l));
  }
  lines = std::move(kept);
  return found;
}

Status write_file(const fs::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return make_error("'" + path.string() + "': cannot create: " + std::strerror(errno));
  ::fchmod(fd, mode);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return make_error("'" + path.string() + "': write failed");
  return {};
}

std::string node_conf(const BundleRequest& r) {
  std::ostringstream c;
  c << "# loa-node configuration of node " << r.node_id << ", written by loactl node provision.\n"
    << "# Every key, its default and its meaning: firmware-config/node.conf.\n"
    << "# Holds the broker password: keep it mode 0640, owner root, group loa-node.\n"
    << "id = " << r.node_id << "\n"
    << "area = " << r.area.str() << "\n"
    << "broker = " << r.broker_url << "\n"
    << "broker-username = " << r.node_id << "\n"
    << "broker-password = " << r.broker_password << "\n";
  if (!r.broker_ca_file.empty()) c << "broker-ca-file = /etc/loa/broker-ca.pem\n";
  c << "broker-tls-version = " << r.broker_tls_version << "\n"
    << "controller-key = /etc/loa/controller.pub\n"
    << "key = /etc/loa/node.key\n"
    << "cache = /var/lib/loa-node\n"
    << "sink = " << r.sink << "\n";
  return c.str();
}

constexpr const char* kInstallScript = R"sh(#!/bin/sh
# Installs this node bundle on the device. Run as root from anywhere:  sh install.sh
# Needs the loa-node binary in /usr/bin and the unit loa-node.service (docs/deployment.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
getent group audio >/dev/null || groupadd --system audio
id loa-node >/dev/null 2>&1 || useradd --system --home-dir /var/lib/loa-node --no-create-home \
  --shell /usr/sbin/nologin --groups audio loa-node
install -d -m 0750 -o root -g loa-node /etc/loa
install -m 0640 -o root -g loa-node "$here/node.conf" /etc/loa/node.conf
install -m 0600 -o loa-node -g loa-node "$here/node.key" /etc/loa/node.key
install -m 0644 -o root -g root "$here/controller.pub" /etc/loa/controller.pub
if [ -f "$here/broker-ca.pem" ]; then
  install -m 0644 -o root -g root "$here/broker-ca.pem" /etc/loa/broker-ca.pem
fi
if systemctl cat loa-node.service >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable loa-node.service
  systemctl restart loa-node.service
  echo "loa-node installed and started; check: systemctl status loa-node"
else
  echo "bundle installed in /etc/loa; install loa-node.service, then: systemctl enable --now loa-node"
fi
)sh";

}  // namespace

std::string node_acl_block(std::string_view node_id, const protocol::AreaPath& area) {
  const std::string id(node_id);
  std::ostringstream b;
  b << begin_marker(id) << "\n"
    << "user " << id << "\n"
    << "topic read " << topics::node_down_filter(id) << "\n";
  for (const auto& a : area.self_and_ancestors()) {
    b << "topic read " << topics::area_plan(a) << "\n"
      << "topic read " << topics::area_control(a) << "\n";
  }
  b << "topic read " << topics::kRoot << "/bulletin/+/manifest\n"
    << "topic read " << topics::kRoot << "/bulletin/+/chunk\n"
    << "topic read " << topics::kRoot << "/live/+\n";
  // Exactly the topics a node publishes, no wildcard: a node can leave at most one retained
  // message per topic of its own in the broker.
  for (const auto kind : {topics::UpKind::hello, topics::UpKind::event, topics::UpKind::status,
                          topics::UpKind::fetch, topics::UpKind::report}) {
    b << "topic write " << topics::node_up(id, kind) << "\n";
  }
  b << end_marker(id) << "\n";
  return b.str();
}

std::string controller_acl_block(std::string_view user) {
  const std::string root(topics::kRoot);
  std::ostringstream b;
  b << "# BEGIN loa controller\n"
    << "user " << user << "\n"
    << "topic read " << topics::all_up_filter() << "\n"
    << "topic write " << root << "/plan/#\n"
    << "topic write " << root << "/control/#\n"
    << "topic write " << root << "/node/+/down/#\n"
    << "topic write " << root << "/bulletin/#\n"
    << "topic write " << root << "/live/#\n"
    << "# END loa controller\n";
  return b.str();
}

std::string mosquitto_password_line(std::string_view user, std::string_view password,
                                    const protocol::Bytes& salt) {
  constexpr int kIterations = 101;  // mosquitto_passwd's default
  const auto hash = pbkdf2_sha512(password, salt, kIterations);
  return std::string(user) + ":$7$" + std::to_string(kIterations) + "$" +
         base64(salt.data(), salt.size()) + "$" + base64(hash.data(), hash.size());
}

std::string mosquitto_password_line(std::string_view user, std::string_view password) {
  protocol::Bytes salt(12);
  randombytes_buf(salt.data(), salt.size());
  return mosquitto_password_line(user, password, salt);
}

std::string random_broker_password() {
  protocol::Bytes raw(16);
  randombytes_buf(raw.data(), raw.size());
  return runtime::to_hex(raw);
}

Status set_password_line(const std::string& path, std::string_view user, const std::string& line) {
  auto text = read_text(path, true);
  if (!text) return text.error();
  std::vector<std::string> lines;
  const std::string prefix = std::string(user) + ":";
  for (auto& l : lines_of(*text)) {
    if (l.rfind(prefix, 0) != 0) lines.push_back(std::move(l));
  }
  lines.push_back(line);
  return write_atomically(path, joined(lines), 0640);
}

Result<bool> remove_password_user(const std::string& path, std::string_view user) {
  auto text = read_text(path, false);
  if (!text) return text.error();
  std::vector<std::string> lines;
  const std::string prefix = std::string(user) + ":";
  bool found = false;
  for (auto& l : lines_of(*text)) {
    if (l.rfind(prefix, 0) == 0) {
      found = true;
    } else {
      lines.push_back(std::move(l));
    }
  }
  if (!found) return false;
  if (Status s = write_atomically(path, joined(lines), 0640); !s) return Error{s.message()};
  return true;
}

Status set_node_acl(const std::string& path, std::string_view node_id, const std::string& block) {
  auto text = read_text(path, true);
  if (!text) return text.error();
  auto lines = lines_of(*text);
  drop_block(lines, node_id);
  if (!lines.empty() && !lines.back().empty()) lines.emplace_back();
  return write_atomically(path, joined(lines) + block, 0640);
}

Result<bool> remove_node_acl(const std::string& path, std::string_view node_id) {
  auto text = read_text(path, false);
  if (!text) return text.error();
  auto lines = lines_of(*text);
  if (!drop_block(lines, node_id)) return false;
  if (Status s = write_atomically(path, joined(lines), 0640); !s) return Error{s.message()};
  return true;
}

Result<Bundle> write_node_bundle(const BundleRequest& r) {
  if (Status s = protocol::validate_node_id(r.node_id); !s) {
    return make_error("node id '" + r.node_id + "': " + s.message());
  }
  if (r.node_id == kControllerBrokerUser) {
    return make_error("node id '" + r.node_id + "' is the controller's broker user name");
  }
  Bundle bundle;
  const fs::path dir = fs::path(r.out_dir) / r.node_id;
  bundle.dir = dir.string();
  std::error_code ec;
  if (fs::exists(dir, ec)) return make_error("'" + bundle.dir + "' already exists");
  fs::create_directories(dir, ec);
  if (ec) return make_error("'" + bundle.dir + "': cannot create: " + ec.message());
  ::chmod(dir.c_str(), 0700);
  auto fail = [&](const std::string& message) -> Result<Bundle> {
    remove_bundle(bundle);
    return make_error(message);
  };
  auto key = runtime::load_or_create_key_pair((dir / "node.key").string());
  if (!key) return fail(key.error().message);
  bundle.node_public_key = key->public_key;
  if (Status s = runtime::write_public_key((dir / "node.pub").string(), key->public_key); !s) {
    return fail(s.message());
  }
  if (Status s = runtime::write_public_key((dir / "controller.pub").string(), r.controller_key);
      !s) {
    return fail(s.message());
  }
  if (!r.broker_ca_file.empty()) {
    fs::copy_file(r.broker_ca_file, dir / "broker-ca.pem", ec);
    if (ec) return fail("broker CA '" + r.broker_ca_file + "': cannot copy: " + ec.message());
  }
  if (Status s = write_file(dir / "node.conf", node_conf(r), 0600); !s) return fail(s.message());
  if (Status s = write_file(dir / "install.sh", kInstallScript, 0755); !s) {
    return fail(s.message());
  }
  std::ostringstream readme;
  readme << "loa node " << r.node_id << " (area " << r.area.str() << ")\n"
         << "Node public key: " << runtime::to_hex(key->public_key) << "\n"
         << "Copy this directory to the device and run as root:  sh install.sh\n"
         << "It holds the node's secret key and broker password: delete other copies once\n"
         << "the device runs (docs/deployment.md).\n";
  if (Status s = write_file(dir / "README.txt", readme.str(), 0644); !s) return fail(s.message());
  return bundle;
}

Status make_bundle_archive(Bundle& bundle) {
  const fs::path dir(bundle.dir);
  const std::string archive = bundle.dir + ".tar.gz";
  const std::string parent = dir.parent_path().empty() ? "." : dir.parent_path().string();
  const std::string name = dir.filename().string();
  std::vector<std::string> args = {"tar", "-czf", archive, "-C", parent, name};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = ::posix_spawnp(&pid, "tar", nullptr, nullptr, argv.data(), environ); rc != 0) {
    return make_error("cannot run tar: " + std::string(std::strerror(rc)));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error("tar could not write '" + archive + "'");
  }
  ::chmod(archive.c_str(), 0600);
  bundle.archive = archive;
  return {};
}

void remove_bundle(const Bundle& bundle) {
  std::error_code ec;
  if (!bundle.dir.empty()) fs::remove_all(bundle.dir, ec);
  if (!bundle.archive.empty()) fs::remove(bundle.archive, ec);
}

}  // namespace loa::controller
