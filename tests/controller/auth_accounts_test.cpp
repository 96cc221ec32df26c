// The accounts library (issue 7): Argon2id hashes, users, sessions, login failures, audit rows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "loa/controller/accounts.hpp"

using namespace loa;
using namespace loa::controller;

namespace {

constexpr Micros kMin = 60'000'000;

std::unique_ptr<AccountStore> memory_store() {
  auto s = AccountStore::open(":memory:");
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(*s);
}

TEST(Accounts, PasswordHashIsArgon2idAndVerifies) {
  auto h = hash_password("correct horse battery");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=", 0), 0u) << *h;
  EXPECT_TRUE(verify_password(*h, "correct horse battery"));
  EXPECT_FALSE(verify_password(*h, "correct horse batterY"));
  auto again = hash_password("correct horse battery");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*h, *again) << "a fresh salt each time";
}

TEST(Accounts, AreaScopeIsASubtree) {
  EXPECT_TRUE(area_in_scope("", "79/26734"));
  EXPECT_TRUE(area_in_scope("79/26734", "79/26734"));
  EXPECT_TRUE(area_in_scope("79/26734", "79/26734/03"));
  EXPECT_FALSE(area_in_scope("79/26734", "79/26737/01"));
  EXPECT_FALSE(area_in_scope("79/2673", "79/26734")) << "a prefix is not an ancestor";
  EXPECT_FALSE(area_in_scope("79/26734", "79"));
}

TEST(Accounts, UsersAreValidatedStoredAndChanged) {
  auto store = memory_store();
  EXPECT_EQ(store->add_user("bad name", Role::viewer, "", "long enough pw", 1).error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(store->add_user("op", Role::commune_operator, "", "long enough pw", 1).error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(store->add_user("admin", Role::administrator, "79", "long enough pw", 1).error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(store->add_user("op", Role::commune_operator, "79/26734", "short", 1).error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(
      store->add_user("op", Role::commune_operator, "79//x", "long enough pw", 1).error().code,
      ErrorCode::bad_request);
  auto op = store->add_user("op", Role::commune_operator, "79/26734", "long enough pw", 5);
  ASSERT_TRUE(op.ok()) << op.error().message;
  EXPECT_EQ(op->created_us, 5);
  EXPECT_EQ(store->add_user("op", Role::viewer, "", "long enough pw", 1).error().code,
            ErrorCode::conflict);

  auto ok = store->check_login("op", "long enough pw");
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->role, Role::commune_operator);
  EXPECT_EQ((*ok)->area, "79/26734");
  EXPECT_FALSE(store->check_login("op", "wrong password")->has_value());
  EXPECT_FALSE(store->check_login("nobody", "long enough pw")->has_value());

  auto session = store->create_session("op", false, 10, 100);
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(store->find_session(session->token, 50)->has_value());
  // A new password ends the user's sessions; the old password stops working.
  UserChange change;
  change.password = "another long password";
  change.role = Role::province_operator;
  change.area = "79";
  auto changed = store->change_user("op", change);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->role, Role::province_operator);
  EXPECT_FALSE(store->find_session(session->token, 50)->has_value());
  EXPECT_FALSE(store->check_login("op", "long enough pw")->has_value());
  EXPECT_TRUE(store->check_login("op", "another long password")->has_value());

  UserChange disable;
  disable.disabled = true;
  ASSERT_TRUE(store->change_user("op", disable).ok());
  EXPECT_FALSE(store->check_login("op", "another long password")->has_value());
  EXPECT_EQ(store->change_user("ghost", disable).error().code, ErrorCode::not_found);
  ASSERT_TRUE(store->remove_user("op").ok());
  EXPECT_TRUE(store->list_users()->empty());
}

TEST(Accounts, SessionsExpireAndEndAndTokensAreStoredHashed) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("loa-accounts-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  std::string token;
  {
    auto s = AccountStore::open(path.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto& store = **s;
    ASSERT_TRUE(store.add_user("v", Role::viewer, "", "long enough pw", 1).ok());
    auto session = store.create_session("v", true, 1000, 100);
    ASSERT_TRUE(session.ok());
    token = session->token;
    EXPECT_EQ(token.size(), 64u);
    EXPECT_EQ(session->csrf.size(), 64u);
    auto found = store.find_session(token, 1099);
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value());
    EXPECT_TRUE((*found)->bearer);
    EXPECT_EQ((*found)->user.name, "v");
    EXPECT_FALSE(store.find_session(token, 1100)->has_value()) << "expired";
    std::string other = token;
    other[0] = other[0] == '0' ? '1' : '0';
    EXPECT_FALSE(store.find_session(other, 1050)->has_value());
  }
  // The file holds no token in clear.
  {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(token), std::string::npos);
  }
  auto s = AccountStore::open(path.string());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->find_session(token, 1050)->has_value()) << "sessions survive a restart";
  ASSERT_TRUE((*s)->end_session(token).ok());
  EXPECT_FALSE((*s)->find_session(token, 1050)->has_value());
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST(Accounts, LoginFailuresBlockWithinTheWindow) {
  auto store = memory_store();
  const Micros window = 15 * kMin;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->record_failure("name:op", i * kMin).ok());
  EXPECT_EQ(*store->blocked_until("name:op", 4 * kMin, 5, window), 0);
  ASSERT_TRUE(store->record_failure("name:op", 4 * kMin).ok());
  // Five in the window: blocked until the oldest leaves it.
  EXPECT_EQ(*store->blocked_until("name:op", 4 * kMin, 5, window), 15 * kMin);
  EXPECT_EQ(*store->blocked_until("name:op", 15 * kMin + 1, 5, window), 0);
  EXPECT_EQ(*store->blocked_until("addr:127.0.0.1", 4 * kMin, 5, window), 0) << "keys apart";
  ASSERT_TRUE(store->clear_failures("name:op").ok());
  EXPECT_EQ(*store->blocked_until("name:op", 4 * kMin, 5, window), 0);
}

TEST(Accounts, AuditRowsAreReadNewestFirstAndByScope) {
  auto store = memory_store();
  const AuditEntry rows[] = {
      {0, 10, "admin", "administrator", "", "127.0.0.1", "POST /api/v1/users", "/api/v1/users",
       "201"},
      {0, 20, "op1", "commune_operator", "79/26734", "10.0.0.5", "POST /api/v1/occurrences",
       "targets area:79/26734", "201"},
      {0, 30, "op2", "commune_operator", "79/26737", "10.0.0.6", "POST /api/v1/occurrences",
       "targets area:79/26734", "403 forbidden: outside"},
  };
  for (const auto& r : rows) ASSERT_TRUE(store->append_audit(r).ok());
  auto all = store->audit({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].actor, "op2");
  EXPECT_EQ((*all)[0].remote, "10.0.0.6");
  EXPECT_EQ((*all)[0].outcome, "403 forbidden: outside");
  EXPECT_GT((*all)[0].id, (*all)[1].id);
  AuditQuery scoped;
  scoped.scope = "79/26734";
  auto mine = store->audit(scoped);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].actor, "op1");
  AuditQuery province;
  province.scope = "79";
  EXPECT_EQ(store->audit(province)->size(), 2u) << "both communes, not the administrator";
  AuditQuery since;
  since.since_us = 20;
  since.actor = "op1";
  EXPECT_EQ(store->audit(since)->size(), 1u);
}

}  // namespace
