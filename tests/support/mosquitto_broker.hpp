// A real Mosquitto broker for tests: started on a free 127.0.0.1 port, stopped on destruction.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "loa/runtime/bus.hpp"

namespace loa::test {

// TLS material for a secure test broker: a throwaway CA and a server certificate for 127.0.0.1
// (and localhost), PEM files.
struct TestPki {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};
// Makes them in `dir` with the openssl program; nullopt with the reason in `why` when openssl
// is missing or fails.
std::optional<TestPki> make_test_pki(const std::string& dir, std::string& why);

// A broker configured like production: TLS listener only, no anonymous clients, a password file
// and an ACL file. Its configuration is `conf_template` (firmware-config/mosquitto/mosquitto.conf)
// with the listener moved to the test's loopback port, the certificate, password and ACL paths
// replaced by these, and persistence, pid file and syslog dropped.
struct SecureBrokerConfig {
  TestPki pki;
  std::string password_file;
  std::string acl_file;
  std::string conf_template;
};

class MosquittoBroker {
 public:
  // Starts /usr/sbin/mosquitto (or $LOA_MOSQUITTO) on a free loopback port with no persistence.
  // Throws std::runtime_error with the broker's log if it does not come up.
  MosquittoBroker();
  // The same with the production security settings (TLS, passwords, ACL); url() is mqtts://.
  explicit MosquittoBroker(SecureBrokerConfig secure);
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  int port() const { return port_; }
  std::string url() const {
    return (secure_ ? "mqtts://127.0.0.1:" : "mqtt://127.0.0.1:") + std::to_string(port_);
  }
  // Makes the broker re-read its password and ACL files (SIGHUP, as systemctl reload does).
  void reload();
  // Kills the broker (SIGKILL: nothing flushed, like a crash) and waits for it.
  void stop();
  // Starts it again on the same port; retained messages are gone (no persistence).
  void start();
  bool running() const { return pid_ > 0; }
  std::string log() const;

 private:
  void write_config() const;

  std::string dir_;
  std::optional<SecureBrokerConfig> secure_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released; racy but fine for tests).
int free_loopback_port();

// A client of the broker at `url` that reconnects quickly (100 to 500 ms), for broker tests.
runtime::BusConfig broker_bus_config(const std::string& url, const std::string& client_id);

}  // namespace loa::test
