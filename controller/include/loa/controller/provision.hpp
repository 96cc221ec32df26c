// Node provisioning, broker side and device side: the node's Mosquitto credential (a password
// file line as mosquitto_passwd writes it), its ACL block, and the bundle a technician copies to
// the device (key pair, node.conf, controller key, broker CA). loactl drives it; see
// docs/deployment.md. Nothing here talks to the controller or the broker.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "loa/protocol/area_path.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/result.hpp"

namespace loa::controller {

// The broker user name of the controller in the ACL template (firmware-config/mosquitto).
inline constexpr std::string_view kControllerBrokerUser = "loa-controller";

// The ACL block of one node (broker user name = node id), between "# BEGIN loa node <id>" and
// "# END loa node <id>" lines: read its own down topics, the plan and control topics of its
// area and every ancestor, bulletin manifests and chunks, live streams; write exactly its own
// five up topics (hello, event, status, fetch, report).
std::string node_acl_block(std::string_view node_id, const protocol::AreaPath& area);

// The ACL block of the controller's credential: read every node's up topics; write plans,
// control, node down topics, bulletins and live streams.
std::string controller_acl_block(std::string_view user = kControllerBrokerUser);

// A password file line for Mosquitto 2 ("user:$7$101$<salt>$<hash>", PBKDF2-HMAC-SHA512 with
// 101 iterations and a random 12-byte salt), the same as `mosquitto_passwd -b`.
std::string mosquitto_password_line(std::string_view user, std::string_view password);
// The same with a given salt (tests compare against mosquitto_passwd's output).
std::string mosquitto_password_line(std::string_view user, std::string_view password,
                                    const protocol::Bytes& salt);

// A new random broker password (32 hex digits, 128 bits).
std::string random_broker_password();

// Sets `user`'s line in a Mosquitto password file (replacing an existing one; the file is
// created with mode 0640 if missing) or removes it. remove returns whether a line was there.
// Files are rewritten atomically (temporary file, fsync, rename).
Status set_password_line(const std::string& path, std::string_view user, const std::string& line);
Result<bool> remove_password_user(const std::string& path, std::string_view user);

// Puts a node's ACL block into an ACL file (replacing its existing block) or removes it.
Status set_node_acl(const std::string& path, std::string_view node_id, const std::string& block);
Result<bool> remove_node_acl(const std::string& path, std::string_view node_id);

// What goes into a node's bundle.
struct BundleRequest {
  std::string node_id;
  protocol::AreaPath area;
  std::string out_dir;         // the bundle is <out_dir>/<node_id>/ (must not exist yet)
  std::string broker_url;      // as the device reaches it, mqtts://HOST:8883
  std::string broker_ca_file;  // copied into the bundle as broker-ca.pem (empty: none)
  std::string broker_tls_version = "tlsv1.2";
  std::string broker_password;  // in node.conf; the broker gets only its hash
  protocol::PublicKey controller_key{};
  std::string sink = "portaudio";
};

struct Bundle {
  std::string dir;      // <out_dir>/<node_id>
  std::string archive;  // <out_dir>/<node_id>.tar.gz (empty until make_bundle_archive)
  protocol::PublicKey node_public_key{};
};

// Writes the bundle: node.key (0600, a new Ed25519 key pair), node.pub, controller.pub,
// broker-ca.pem, node.conf (0600, paths as installed under /etc/loa), install.sh, README.
// On failure nothing is left behind. The error names the file.
Result<Bundle> write_node_bundle(const BundleRequest& request);

// Packs <dir> into <dir>.tar.gz with the tar program.
Status make_bundle_archive(Bundle& bundle);

// Removes a bundle directory and archive (after a failed registration).
void remove_bundle(const Bundle& bundle);

}  // namespace loa::controller
