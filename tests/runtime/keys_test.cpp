#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "loa/runtime/keys.hpp"

using namespace loa::runtime;

TEST(Keys, CreatesOnceThenLoadsTheSamePair) {
  const auto dir = std::filesystem::temp_directory_path() / "loa-keys-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "k.key").string();
  auto first = load_or_create_key_pair(path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = load_or_create_key_pair(path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->public_key, second->public_key);

  const std::string pub = (dir / "k.pub").string();
  ASSERT_TRUE(write_public_key(pub, first->public_key).ok());
  auto loaded = load_public_key(pub);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, first->public_key);
  std::filesystem::remove_all(dir);
}

TEST(Keys, BadFilesAreNamed) {
  const auto path = std::filesystem::temp_directory_path() / "loa-bad.pub";
  std::ofstream(path) << "zz";
  auto r = load_public_key(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path.string()), std::string::npos);
  EXPECT_NE(r.error().message.find("64 hex digits"), std::string::npos);
  std::filesystem::remove(path);
  auto missing = load_public_key("/nonexistent/loa.pub");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/loa.pub"), std::string::npos);
}

TEST(Keys, HexRoundTrip) {
  const loa::protocol::Bytes b = {0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "00abff");
  auto back = from_hex("00ABff", 3);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, b);
  EXPECT_FALSE(from_hex("0g", 1).ok());
}
