// A real Mosquitto broker for tests: started on a free 127.0.0.1 port, stopped on destruction.
#pragma once

#include <sys/types.h>

#include <string>

namespace loa::test {

class MosquittoBroker {
 public:
  // Starts /usr/sbin/mosquitto (or $LOA_MOSQUITTO) on a free loopback port with no persistence.
  // Throws std::runtime_error with the broker's log if it does not come up.
  MosquittoBroker();
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  int port() const { return port_; }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  // Kills the broker (SIGKILL: nothing flushed, like a crash) and waits for it.
  void stop();
  // Starts it again on the same port; retained messages are gone (no persistence).
  void start();
  bool running() const { return pid_ > 0; }
  std::string log() const;

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released; racy but fine for tests).
int free_loopback_port();

}  // namespace loa::test
