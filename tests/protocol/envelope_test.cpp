#include "loa/protocol/envelope.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "samples.hpp"

namespace loa::protocol {
namespace {

constexpr Micros kNow = samples::kMorning;

class EnvelopeTest : public ::testing::Test {
 protected:
  KeyPair key_ = samples::controller_key();
  KeyPair other_ = samples::node_key();
  Bytes body_ = encode(samples::plan());

  KeySet trusted_{key_.public_key};

  VerifyPolicy policy() const {
    VerifyPolicy p;
    p.now_us = kNow;
    return p;
  }

  Bytes sealed(std::uint64_t sequence = 5, Micros sender_us = kNow) const {
    return seal(MessageType::plan, key_, sender_us, sequence, body_);
  }

  Rejection rejection(ByteView envelope, const VerifyPolicy& policy,
                      const KeySet* trusted = nullptr) const {
    const OpenResult r = open(envelope, trusted ? *trusted : trusted_, policy);
    EXPECT_FALSE(r.ok());
    return r.rejection;
  }
};

TEST_F(EnvelopeTest, OpensWhatItSealed) {
  const Bytes env = sealed();
  ASSERT_EQ(env.size(), kEnvelopeHeaderSize + body_.size() + kSignatureSize);
  const OpenResult r = open(env, trusted_, policy());
  ASSERT_TRUE(r.ok()) << to_string(r.rejection);
  EXPECT_EQ(r.opened->header.type, MessageType::plan);
  EXPECT_EQ(r.opened->header.key_id, key_id(key_.public_key));
  EXPECT_EQ(r.opened->header.sender_us, kNow);
  EXPECT_EQ(r.opened->header.sequence, 5u);
  EXPECT_EQ(Bytes(r.opened->body.begin(), r.opened->body.end()), body_);
  EXPECT_EQ(r.opened->body.data(), env.data() + kEnvelopeHeaderSize);  // no copy
  auto plan = decode_plan(r.opened->body);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(*plan, samples::plan());
}

TEST_F(EnvelopeTest, HeaderLayout) {
  const Bytes env = seal(MessageType::fetch, key_, 0x0102030405060708, 0x1112131415161718, body_);
  EXPECT_EQ(env[0], 'L');
  EXPECT_EQ(env[1], 'O');
  EXPECT_EQ(env[2], 'A');
  EXPECT_EQ(env[3], kWireVersion);
  EXPECT_EQ(env[4], 9);
  const KeyId id = key_id(key_.public_key);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(env[5 + i], static_cast<std::uint8_t>(id >> (56 - 8 * i)));
  EXPECT_EQ(env[13], 0x01);
  EXPECT_EQ(env[20], 0x08);
  EXPECT_EQ(env[21], 0x11);
  EXPECT_EQ(env[28], 0x18);
  const std::size_t n = body_.size();
  EXPECT_EQ(env[29], 0);
  EXPECT_EQ(env[30], 0);
  EXPECT_EQ(env[31], static_cast<std::uint8_t>(n >> 8));
  EXPECT_EQ(env[32], static_cast<std::uint8_t>(n));
}

TEST_F(EnvelopeTest, EmptyBodyIsAllowed) {
  const Bytes env = seal(MessageType::control, key_, kNow, 1, {});
  ASSERT_EQ(env.size(), kEnvelopeHeaderSize + kSignatureSize);
  const OpenResult r = open(env, trusted_, policy());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.opened->body.empty());
}

TEST_F(EnvelopeTest, BadMagic) {
  Bytes env = sealed();
  env[1] = 'X';
  EXPECT_EQ(rejection(env, policy()), Rejection::bad_magic);
}

TEST_F(EnvelopeTest, UnknownVersion) {
  Bytes env = sealed();
  env[3] = kWireVersion + 1;
  EXPECT_EQ(rejection(env, policy()), Rejection::unknown_version);
  env[3] = 0;
  EXPECT_EQ(rejection(env, policy()), Rejection::unknown_version);
}

TEST_F(EnvelopeTest, UnknownType) {
  Bytes env = sealed();
  env[4] = 0;
  EXPECT_EQ(rejection(env, policy()), Rejection::unknown_type);
  env[4] = 11;
  EXPECT_EQ(rejection(env, policy()), Rejection::unknown_type);
  for (std::uint8_t t = 1; t <= 10; ++t) {
    const Bytes ok = seal(static_cast<MessageType>(t), key_, kNow, 1, body_);
    EXPECT_TRUE(open(ok, trusted_, policy()).ok()) << int{t};
    EXPECT_STRNE(to_string(static_cast<MessageType>(t)), "unknown");
  }
}

TEST_F(EnvelopeTest, Truncated) {
  const Bytes env = sealed();
  for (std::size_t len = 0; len < env.size(); ++len) {
    EXPECT_EQ(rejection(ByteView(env.data(), len), policy()), Rejection::truncated) << len;
  }
}

TEST_F(EnvelopeTest, TrailingBytes) {
  Bytes env = sealed();
  env.push_back(0);
  EXPECT_EQ(rejection(env, policy()), Rejection::trailing_bytes);
  // A declared length shorter than the body is the same thing.
  env = sealed();
  env[32] = static_cast<std::uint8_t>(env[32] - 1);
  EXPECT_EQ(rejection(env, policy()), Rejection::trailing_bytes);
}

TEST_F(EnvelopeTest, Oversize) {
  // The biggest allowed body opens.
  const Bytes big_body(kMaxBodySize, 0x33);
  const Bytes biggest = seal(MessageType::audio_chunk, key_, kNow, 1, big_body);
  EXPECT_TRUE(open(biggest, trusted_, policy()).ok());
  Bytes longer = biggest;
  longer.push_back(0);
  EXPECT_EQ(rejection(longer, policy()), Rejection::oversize);
  // A declared length above the cap is refused before anything else is looked at.
  Bytes env = sealed();
  const std::uint32_t declared = kMaxBodySize + 1;
  for (int i = 0; i < 4; ++i) env[29 + i] = static_cast<std::uint8_t>(declared >> (24 - 8 * i));
  EXPECT_EQ(rejection(env, policy()), Rejection::oversize);
  env[0] = 'X';
  EXPECT_EQ(rejection(env, policy()), Rejection::oversize);
}

TEST_F(EnvelopeTest, UnknownKey) {
  const Bytes env = seal(MessageType::plan, other_, kNow, 1, body_);
  EXPECT_EQ(rejection(env, policy()), Rejection::unknown_key);
  const KeySet none;
  EXPECT_EQ(rejection(sealed(), policy(), &none), Rejection::unknown_key);
}

// A key rotation: while receivers trust {old, new}, what either signs opens; once they trust
// only {new}, what the old key signs is refused.
TEST_F(EnvelopeTest, AKeySetAcceptsEachOfItsKeysAndNoOther) {
  const KeyPair rotated = KeyPair::generate();
  const KeySet both({key_.public_key, rotated.public_key});
  EXPECT_EQ(both.size(), 2u);
  EXPECT_TRUE(open(sealed(), both, policy()).ok());
  const Bytes by_new = seal(MessageType::plan, rotated, kNow, 6, body_);
  const OpenResult r = open(by_new, both, policy());
  ASSERT_TRUE(r.ok()) << to_string(r.rejection);
  EXPECT_EQ(r.opened->header.key_id, key_id(rotated.public_key));

  const KeySet only_new(rotated.public_key);
  EXPECT_TRUE(open(by_new, only_new, policy()).ok());
  EXPECT_EQ(rejection(sealed(), policy(), &only_new), Rejection::unknown_key);
  EXPECT_EQ(claimed_key_id(by_new), key_id(rotated.public_key));
  EXPECT_FALSE(claimed_key_id(ByteView(by_new.data(), kEnvelopeHeaderSize - 1)));
  // A key given twice is held once.
  KeySet twice(rotated.public_key);
  twice.add(rotated.public_key);
  EXPECT_EQ(twice, only_new);
}

TEST_F(EnvelopeTest, BadSignature) {
  const Bytes good = sealed();
  // Every byte of header, body and signature is covered (the header's magic, version, type and
  // length fields are refused earlier for their own reasons).
  std::set<std::size_t> skip = {0, 1, 2, 3, 4, 29, 30, 31, 32};
  for (std::size_t i = 0; i < good.size(); ++i) {
    if (skip.count(i) || (i >= 5 && i < 13)) continue;  // key id: unknown_key instead
    Bytes env = good;
    env[i] ^= 0x01;
    EXPECT_EQ(rejection(env, policy()), Rejection::bad_signature) << "byte " << i;
  }
  // The type byte is signed: changing it to another valid type breaks the signature.
  Bytes retyped = good;
  retyped[4] = static_cast<std::uint8_t>(MessageType::control);
  EXPECT_EQ(rejection(retyped, policy()), Rejection::bad_signature);
}

TEST_F(EnvelopeTest, Expired) {
  VerifyPolicy p = policy();
  p.max_age_us = 60'000'000;
  EXPECT_TRUE(open(sealed(1, kNow - 60'000'000), trusted_, p).ok());  // exactly max age: accepted
  EXPECT_EQ(rejection(sealed(1, kNow - 60'000'001), p), Rejection::expired);
  EXPECT_TRUE(
      open(sealed(1, kNow + 5'000'000), trusted_, p).ok());  // sender clock ahead: not expired
  p.max_age_us = 0;
  EXPECT_TRUE(open(sealed(1, 0), trusted_, p).ok());  // no age check
  p.max_age_us = INT64_MAX;
  p.now_us = INT64_MIN + 5;
  EXPECT_TRUE(open(sealed(1, INT64_MIN), trusted_, p).ok());  // no overflow on extreme values
}

TEST_F(EnvelopeTest, Replayed) {
  VerifyPolicy p = policy();
  p.last_sequence = 5;
  EXPECT_EQ(rejection(sealed(5), p), Rejection::replayed);
  EXPECT_EQ(rejection(sealed(4), p), Rejection::replayed);
  EXPECT_TRUE(open(sealed(6), trusted_, p).ok());
  p.last_sequence = 0;
  EXPECT_EQ(rejection(sealed(0), p), Rejection::replayed);
  p.last_sequence.reset();
  EXPECT_TRUE(open(sealed(0), trusted_, p).ok());
}

TEST_F(EnvelopeTest, ChecksInTheDocumentedOrder) {
  VerifyPolicy p = policy();
  p.max_age_us = 1;
  p.last_sequence = 100;
  // Old and replayed: the age check comes first.
  EXPECT_EQ(rejection(sealed(1, kNow - 10), p), Rejection::expired);
  // Forged, old and replayed: the signature comes first.
  Bytes env = sealed(1, kNow - 10);
  env.back() ^= 1;
  EXPECT_EQ(rejection(env, p), Rejection::bad_signature);
  // Unknown key and bad signature: the key comes first.
  Bytes other = seal(MessageType::plan, other_, kNow, 1, body_);
  other.back() ^= 1;
  EXPECT_EQ(rejection(other, p), Rejection::unknown_key);
  // Bad version and unknown type: version first; bad magic before both.
  env = sealed();
  env[3] = 9;
  env[4] = 99;
  EXPECT_EQ(rejection(env, p), Rejection::unknown_version);
  env[0] = 0;
  EXPECT_EQ(rejection(env, p), Rejection::bad_magic);
  // Framing before magic.
  env.push_back(0);
  EXPECT_EQ(rejection(env, p), Rejection::trailing_bytes);
}

TEST(Keys, KeyIdIsTheDigestPrefix) {
  const KeyPair k = samples::controller_key();
  const Digest d = sha256(k.public_key);
  KeyId expected = 0;
  for (int i = 0; i < 8; ++i) expected = (expected << 8) | d[i];
  EXPECT_EQ(key_id(k.public_key), expected);
}

TEST(Keys, FromSecretRederivesThePair) {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::from_secret(a.secret_key);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_EQ(a.secret_key, b.secret_key);
  const KeyPair c = KeyPair::generate();
  EXPECT_NE(a.public_key, c.public_key);
}

TEST(Keys, SealIsDeterministic) {
  const KeyPair k = samples::controller_key();
  const Bytes body = encode(samples::control());
  EXPECT_EQ(seal(MessageType::control, k, 1, 2, body), seal(MessageType::control, k, 1, 2, body));
}

TEST(Rejections, AllHaveNames) {
  std::set<std::string> names;
  for (const auto r : {Rejection::bad_magic, Rejection::unknown_version, Rejection::unknown_type,
                       Rejection::truncated, Rejection::trailing_bytes, Rejection::oversize,
                       Rejection::unknown_key, Rejection::bad_signature, Rejection::expired,
                       Rejection::replayed}) {
    names.insert(to_string(r));
  }
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace loa::protocol
