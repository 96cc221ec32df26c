#include "mosquitto_broker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "process.hpp"

namespace loa::test {
namespace {

bool can_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

runtime::BusConfig broker_bus_config(const std::string& url, const std::string& client_id) {
  runtime::BusConfig c;
  c.url = url;
  c.client_id = client_id;
  c.reconnect_min_ms = 100;
  c.reconnect_max_ms = 500;
  return c;
}

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::optional<TestPki> make_test_pki(const std::string& dir, std::string& why) {
  if (::access("/usr/bin/openssl", X_OK) != 0) {
    why = "the openssl program is not installed (Debian package openssl)";
    return std::nullopt;
  }
  TestPki pki{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  {
    std::ofstream ext(dir + "/server.ext");
    ext << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        << "extendedKeyUsage=serverAuth\n";
  }
  const std::vector<std::vector<std::string>> steps = {
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key", "-out", pki.ca_file,
       "-days", "2", "-subj", "/CN=loa test CA"},
      {"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", pki.key_file, "-out", dir + "/server.csr", "-subj", "/CN=127.0.0.1"},
      {"/usr/bin/openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", pki.ca_file, "-CAkey",
       dir + "/ca.key", "-CAcreateserial", "-out", pki.cert_file, "-days", "2", "-extfile",
       dir + "/server.ext"}};
  for (const auto& argv : steps) {
    const CommandResult r = run_command(argv);
    if (r.exit_code != 0) {
      why = "openssl " + argv[1] + " failed: " + r.err;
      return std::nullopt;
    }
  }
  // Mosquitto may run as its own user after start (when the tests run as root).
  for (const auto& f : {pki.ca_file, pki.cert_file, pki.key_file}) ::chmod(f.c_str(), 0644);
  return pki;
}

MosquittoBroker::MosquittoBroker() {
  char tmpl[] = "/tmp/loa-mosquitto-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_loopback_port();
  start();
}

MosquittoBroker::MosquittoBroker(SecureBrokerConfig secure) : secure_(std::move(secure)) {
  char tmpl[] = "/tmp/loa-mosquitto-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  // Readable by the mosquitto user too, which a broker started as root switches to.
  ::chmod(dir_.c_str(), 0755);
  port_ = free_loopback_port();
  start();
}

void MosquittoBroker::write_config() const {
  std::ofstream conf(dir_ + "/mosquitto.conf");
  if (!secure_) {
    conf << "listener " << port_ << " 127.0.0.1\n"
         << "allow_anonymous true\n"
         << "persistence false\n"
         << "max_queued_messages 100000\n"
         << "log_dest stderr\n"
         << "log_type error\nlog_type warning\nlog_type notice\n";
    return;
  }
  std::ifstream in(secure_->conf_template);
  if (!in) throw std::runtime_error("cannot read " + secure_->conf_template);
  const std::pair<std::string, std::string> paths[] = {
      {"/etc/mosquitto/certs/loa-ca.pem", secure_->pki.ca_file},
      {"/etc/mosquitto/certs/loa-broker.pem", secure_->pki.cert_file},
      {"/etc/mosquitto/certs/loa-broker.key", secure_->pki.key_file},
      {"/etc/mosquitto/loa.passwd", secure_->password_file},
      {"/etc/mosquitto/loa.acl", secure_->acl_file}};
  bool listener = false;
  for (std::string line; std::getline(in, line);) {
    const std::string word = line.substr(0, line.find(' '));
    if (word == "persistence" || word == "persistence_location" || word == "autosave_interval" ||
        word == "pid_file" || word == "log_dest") {
      continue;
    }
    if (word == "listener") {
      line = "listener " + std::to_string(port_) + " 127.0.0.1";
      listener = true;
    }
    for (const auto& [from, to] : paths) {
      if (const auto at = line.find(from); at != std::string::npos)
        line.replace(at, from.size(), to);
    }
    conf << line << "\n";
  }
  if (!listener) throw std::runtime_error(secure_->conf_template + ": no listener line");
  conf << "persistence false\nlog_dest stderr\nlog_type all\n";
}

void MosquittoBroker::reload() {
  if (pid_ > 0) ::kill(pid_, SIGHUP);
}

MosquittoBroker::~MosquittoBroker() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void MosquittoBroker::start() {
  if (pid_ > 0) return;
  write_config();
  const char* env = std::getenv("LOA_MOSQUITTO");
  const std::string binary = env ? env : "/usr/sbin/mosquitto";
  const std::string conf = dir_ + "/mosquitto.conf";
  // The log goes to stderr, opened here: as root, mosquitto drops to its own user, which could
  // not open a file in our private directory.
  const int log_fd = ::open((dir_ + "/mosquitto.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, 2);
    ::execl(binary.c_str(), binary.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(log_fd);
  for (int i = 0; i < 100; ++i) {
    if (can_connect(port_)) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("mosquitto exited at start: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  throw std::runtime_error("mosquitto did not listen on port " + std::to_string(port_) + ": " +
                           log());
}

void MosquittoBroker::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string MosquittoBroker::log() const {
  std::ifstream in(dir_ + "/mosquitto.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace loa::test
