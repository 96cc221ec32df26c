// The bulletins' audio files on disk: a file is durable (written out, named, its directory
// entry written out) before the database row that names it is committed, and an ingest that
// fails leaves neither a file nor a row. File system calls are watched through CatalogFiles.
#include "loa/controller/catalog.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "controller_fixture.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/keys.hpp"

using namespace loa;
using namespace loa::controller;

namespace {

// The real calls, each recorded by name; `fail` makes the named call fail instead.
class RecordingFiles final : public CatalogFiles {
 public:
  std::vector<std::string> calls;
  std::string fail;

  Result<int> create(const std::string& dir, const std::string& prefix,
                     std::string& path) override {
    if (Status s = note("create"); !s) return make_error(s.message());
    return real_.create(dir, prefix, path);
  }
  Status write(int file, protocol::ByteView bytes) override {
    if (Status s = note("write"); !s) return s;
    return real_.write(file, bytes);
  }
  Status sync(int file) override {
    if (Status s = note("sync"); !s) return s;
    return real_.sync(file);
  }
  Status close(int file) override {
    // A failed close still closes (as POSIX close does).
    Status s = note("close");
    Status r = real_.close(file);
    return s ? r : s;
  }
  Status rename(const std::string& from, const std::string& to) override {
    if (Status s = note("rename"); !s) return s;
    return real_.rename(from, to);
  }
  Status sync_dir(const std::string& dir) override {
    if (Status s = note("sync_dir"); !s) return s;
    return real_.sync_dir(dir);
  }
  void remove(const std::string& path) override {
    (void)note("remove");
    real_.remove(path);
  }

 private:
  Status note(const std::string& call) {
    calls.push_back(call);
    if (call == fail) return make_error("injected failure of " + call);
    return Status::success();
  }
  CatalogFiles& real_ = system_catalog_files();
};

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("loa-catalog-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  RecordingFiles files_;
};

TEST_F(CatalogTest, AFileIsWrittenOutThenNamedThenItsDirectoryWrittenOut) {
  Catalog catalog(dir_.string(), 4, files_);
  const protocol::Bytes ogg(100'000, 0x4f);
  auto stored = catalog.store_ogg(ogg);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(files_.calls,
            (std::vector<std::string>{"create", "write", "sync", "close", "rename", "sync_dir"}));
  EXPECT_EQ(files_in(dir_),
            std::vector<std::string>{std::filesystem::path(stored->path).filename().string()});
  EXPECT_EQ(stored->sha256_hex, runtime::to_hex(protocol::ByteView(protocol::sha256(ogg))));
  EXPECT_EQ(std::filesystem::file_size(stored->path), ogg.size());
  EXPECT_EQ(std::filesystem::status(stored->path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::others_read);
}

TEST_F(CatalogTest, AFailedStepLeavesNoFileBehind) {
  for (const std::string step : {"write", "sync", "close", "rename"}) {
    SCOPED_TRACE(step);
    files_.calls.clear();
    files_.fail = step;
    Catalog catalog(dir_.string(), 4, files_);
    auto stored = catalog.store_ogg(protocol::Bytes(5000, 1));
    ASSERT_FALSE(stored.ok());
    EXPECT_NE(stored.error().message.find("injected failure of " + step), std::string::npos)
        << stored.error().message;
    EXPECT_NE(stored.error().message.find(dir_.string()), std::string::npos)
        << stored.error().message;
    EXPECT_EQ(files_in(dir_), std::vector<std::string>{});
    EXPECT_EQ(files_.calls.back(), "remove");
  }
}

TEST_F(CatalogTest, AFileDroppedBeforeItsCommitIsRemoved) {
  Catalog catalog(dir_.string(), 4, files_);
  {
    auto file = catalog.create_file();
    ASSERT_TRUE(file.ok()) << file.error().message;
    ASSERT_TRUE((*file)->append(protocol::Bytes(10, 2)).ok());
    EXPECT_EQ(files_in(dir_).size(), 1u);
  }
  EXPECT_EQ(files_in(dir_), std::vector<std::string>{});
}

TEST_F(CatalogTest, FilesOfAnInterruptedIngestAreRemovedAtStart) {
  Catalog catalog(dir_.string(), 4, files_);
  auto kept = catalog.store_ogg(protocol::Bytes(10, 3));
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  auto file = catalog.create_file();  // as a crash would leave it
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_TRUE((*file)->append(protocol::Bytes(10, 4)).ok());
  EXPECT_EQ(files_in(dir_).size(), 2u);
  EXPECT_EQ(Catalog(dir_.string(), 4, files_).remove_incoming(), 1u);
  EXPECT_EQ(files_in(dir_),
            std::vector<std::string>{std::filesystem::path(kept->path).filename().string()});
}

// Through the controller: an upload whose file cannot be stored, or that is not audio, leaves
// no bulletin and no file; one that is stored names a complete file.
class CatalogControllerTest : public test::ControllerFixture {};

TEST_F(CatalogControllerTest, AnUploadThatFailsLeavesNoBulletinAndNoFile) {
  // Not audio: refused naming the problem, nothing written.
  protocol::Bytes riff = test::tone_wav(1.0);
  riff.resize(30);  // a WAV header cut short
  auto truncated = controller_->create_bulletin_from_audio("x", riff);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, ErrorCode::unprocessable);
  EXPECT_NE(truncated.error().message.find("uploaded audio (30 bytes)"), std::string::npos)
      << truncated.error().message;
  EXPECT_EQ(files_in(dir_), std::vector<std::string>{});
  EXPECT_EQ(controller_->list_bulletins()->size(), 0u);

  // The audio directory cannot be made (a file is in the way): no row.
  std::filesystem::create_directories(dir_);
  controller_.reset();
  { std::ofstream(dir_ / "blocked") << "x"; }
  auto s = settings();
  s.audio_dir = (dir_ / "blocked" / "audio").string();
  controller_ = std::make_unique<Controller>(*store_, *bus_, clock_, keys_, s);
  auto blocked = controller_->create_bulletin_from_audio("x", test::tone_wav(1.0));
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(blocked.error().message.find("blocked"), std::string::npos) << blocked.error().message;
  EXPECT_EQ(controller_->list_bulletins()->size(), 0u);

  controller_.reset();
  start_controller();
  auto good = controller_->create_bulletin_from_audio("x", test::tone_wav(1.0));
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(files_in(dir_).size(), 2u);  // "blocked" and the bulletin's file
  auto ogg = controller_->bulletin_audio(good->id);
  ASSERT_TRUE(ogg.ok()) << ogg.error().message;
  EXPECT_TRUE(protocol::read_ogg_opus(*ogg).ok());
}

}  // namespace
