#include "loa/node/plan_book.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "loa/runtime/files.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::KeyPair;
using protocol::MessageType;
using protocol::Occurrence;
using protocol::Plan;

constexpr protocol::Micros kT0 = 1'800'000'000'000'000;

Plan make_plan(const std::string& scope, std::uint64_t version,
               std::vector<std::uint64_t> occurrence_ids) {
  Plan p;
  p.scope = scope;
  p.version = version;
  for (std::uint64_t id : occurrence_ids) {
    p.occurrences.push_back(Occurrence{id, 500 + id, kT0 + static_cast<protocol::Micros>(id) * 1000,
                                       kT0 + 60'000'000, protocol::Priority::normal, 100});
  }
  return p;
}

class PlanBookTest : public ::testing::Test {
 protected:
  protocol::Bytes sealed(const Plan& p, const KeyPair& signer) {
    return protocol::seal(MessageType::plan, signer, kT0, p.version, protocol::encode(p));
  }
  PlanBook book(const std::string& dir) {
    return PlanBook("n1", *protocol::AreaPath::parse("79/26734/03"),
                    protocol::KeySet(controller_.public_key), dir);
  }
  KeyPair controller_ = KeyPair::generate();
  test::TempDir dir_;
};

TEST_F(PlanBookTest, AcceptsEachOwnScope) {
  PlanBook b = book("");
  for (const std::string scope : {"area:79", "area:79/26734", "area:79/26734/03", "node:n1"}) {
    const PlanOffer o = b.offer(sealed(make_plan(scope, 1, {1}), controller_));
    EXPECT_EQ(o.verdict, PlanVerdict::accepted) << scope << ": " << o.detail;
  }
  EXPECT_EQ(b.held().size(), 4u);
}

TEST_F(PlanBookTest, RejectsForeignScope) {
  PlanBook b = book("");
  for (const std::string scope :
       {"area:80", "area:79/26734/04", "area:79/26734/03/01", "node:n2"}) {
    const PlanOffer o = b.offer(sealed(make_plan(scope, 1, {1}), controller_));
    EXPECT_EQ(o.verdict, PlanVerdict::rejected) << scope;
    EXPECT_NE(o.detail.find("scope"), std::string::npos) << o.detail;
  }
  EXPECT_TRUE(b.held().empty());
}

TEST_F(PlanBookTest, RejectsUnknownKeyAndBadSignature) {
  PlanBook b = book("");
  const KeyPair stranger = KeyPair::generate();
  PlanOffer o = b.offer(sealed(make_plan("area:79", 1, {1}), stranger));
  EXPECT_EQ(o.verdict, PlanVerdict::rejected);
  EXPECT_NE(o.detail.find(protocol::to_string(protocol::Rejection::unknown_key)), std::string::npos)
      << o.detail;

  protocol::Bytes env = sealed(make_plan("area:79", 1, {1}), controller_);
  env[protocol::kEnvelopeHeaderSize + 2] ^= 1;  // a body byte: the signature no longer matches
  o = b.offer(env);
  EXPECT_EQ(o.verdict, PlanVerdict::rejected);
  EXPECT_NE(o.detail.find(protocol::to_string(protocol::Rejection::bad_signature)),
            std::string::npos)
      << o.detail;
  EXPECT_TRUE(b.held().empty());
}

TEST_F(PlanBookTest, ReplayOfOlderIsRejectedEqualIsUnchanged) {
  PlanBook b = book("");
  ASSERT_EQ(b.offer(sealed(make_plan("area:79", 5, {1}), controller_)).verdict,
            PlanVerdict::accepted);
  EXPECT_EQ(b.offer(sealed(make_plan("area:79", 5, {1}), controller_)).verdict,
            PlanVerdict::unchanged);
  const PlanOffer old = b.offer(sealed(make_plan("area:79", 4, {2}), controller_));
  EXPECT_EQ(old.verdict, PlanVerdict::rejected);
  EXPECT_NE(old.detail.find("older"), std::string::npos) << old.detail;
  ASSERT_EQ(b.effective().size(), 1u);
  EXPECT_EQ(b.effective()[0].occurrence_id, 1u);

  // A newer version replaces the scope's plan entirely.
  ASSERT_EQ(b.offer(sealed(make_plan("area:79", 6, {3}), controller_)).verdict,
            PlanVerdict::accepted);
  ASSERT_EQ(b.effective().size(), 1u);
  EXPECT_EQ(b.effective()[0].occurrence_id, 3u);
  EXPECT_EQ(b.highest_version(), 6u);
}

TEST_F(PlanBookTest, EffectivePlanIsUnionDeduplicatedByOccurrence) {
  PlanBook b = book("");
  ASSERT_EQ(b.offer(sealed(make_plan("area:79", 1, {3, 1}), controller_)).verdict,
            PlanVerdict::accepted);
  ASSERT_EQ(b.offer(sealed(make_plan("node:n1", 1, {2, 3}), controller_)).verdict,
            PlanVerdict::accepted);
  const auto eff = b.effective();
  ASSERT_EQ(eff.size(), 3u);
  EXPECT_EQ(eff[0].occurrence_id, 1u);  // sorted by start
  EXPECT_EQ(eff[1].occurrence_id, 2u);
  EXPECT_EQ(eff[2].occurrence_id, 3u);
}

TEST_F(PlanBookTest, AnOccurrenceInSeveralPlansIsTakenFromTheNewest) {
  // A changed occurrence moving between scopes: the node plan (v4) has the new start, the area
  // plan (v3, sorted first) still the old one.
  PlanBook b = book("");
  Plan older = make_plan("area:79", 3, {1});
  Plan newer = make_plan("node:n1", 4, {1});
  newer.occurrences[0].start_us += 5'000'000;
  ASSERT_EQ(b.offer(sealed(older, controller_)).verdict, PlanVerdict::accepted);
  ASSERT_EQ(b.offer(sealed(newer, controller_)).verdict, PlanVerdict::accepted);
  ASSERT_EQ(b.effective().size(), 1u);
  EXPECT_EQ(b.effective()[0], newer.occurrences[0]);
  // ... and the other way round.
  older = make_plan("node:n1", 5, {1});
  newer = make_plan("area:79", 6, {1});
  newer.occurrences[0].bulletin_id = 900;
  ASSERT_EQ(b.offer(sealed(older, controller_)).verdict, PlanVerdict::accepted);
  ASSERT_EQ(b.offer(sealed(newer, controller_)).verdict, PlanVerdict::accepted);
  EXPECT_EQ(b.effective()[0], newer.occurrences[0]);
}

TEST_F(PlanBookTest, PersistsAndReverifiesOnLoad) {
  {
    PlanBook b = book(dir_.path());
    ASSERT_EQ(b.offer(sealed(make_plan("area:79/26734", 7, {1, 2}), controller_)).verdict,
              PlanVerdict::accepted);
    ASSERT_EQ(b.offer(sealed(make_plan("node:n1", 2, {9}), controller_)).verdict,
              PlanVerdict::accepted);
  }
  {
    PlanBook b = book(dir_.path());
    EXPECT_EQ(b.load(), 2u);
    EXPECT_EQ(b.effective().size(), 3u);
    EXPECT_EQ(b.offer(sealed(make_plan("area:79/26734", 7, {1, 2}), controller_)).verdict,
              PlanVerdict::unchanged);
    EXPECT_EQ(b.offer(sealed(make_plan("area:79/26734", 6, {1}), controller_)).verdict,
              PlanVerdict::rejected);
  }
  // A file altered on disk is refused on load.
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    if (e.path().filename().string().find("node-n1") == std::string::npos) continue;
    auto bytes = runtime::read_file(e.path().string(), 1 << 20);
    ASSERT_TRUE(bytes.ok());
    (*bytes)[protocol::kEnvelopeHeaderSize] ^= 0xff;
    ASSERT_TRUE(runtime::write_file_atomic(e.path().string(), *bytes).ok());
  }
  PlanBook b = book(dir_.path());
  EXPECT_EQ(b.load(), 1u);
  EXPECT_EQ(b.effective().size(), 2u);
  // Plans of a key the node no longer trusts are refused too.
  PlanBook other("n1", *protocol::AreaPath::parse("79/26734/03"),
                 protocol::KeySet(KeyPair::generate().public_key), dir_.path());
  EXPECT_EQ(other.load(), 0u);
}

}  // namespace
}  // namespace loa::node
