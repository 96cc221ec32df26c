#include "loa/protocol/area_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace loa::protocol {
namespace {

using ::testing::HasSubstr;

std::string error_of(std::string_view text) {
  auto r = AreaPath::parse(text);
  return r.ok() ? std::string("(parsed)") : r.error().message;
}

TEST(AreaPath, ParsesSegments) {
  auto path = AreaPath::parse("79/26734/03");
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(path->str(), "79/26734/03");
  EXPECT_EQ(path->depth(), 3u);
  EXPECT_EQ(path->segments(), (std::vector<std::string>{"79", "26734", "03"}));
  auto single = AreaPath::parse("Ha_Noi-01");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->depth(), 1u);
}

TEST(AreaPath, ErrorsNameTheRule) {
  EXPECT_EQ(error_of(""), "area path '': is empty");
  EXPECT_EQ(error_of("79//3"), "area path '79//3': segment 2 is empty");
  EXPECT_EQ(error_of("/79"), "area path '/79': segment 1 is empty");
  EXPECT_EQ(error_of("79/"), "area path '79/': segment 2 is empty");
  EXPECT_EQ(error_of("79/2 6"),
            "area path '79/2 6': segment 2 has invalid character ' ' (allowed: 0-9 A-Z a-z _ -)");
  EXPECT_THAT(error_of("79/+"), HasSubstr("segment 2 has invalid character '+'"));
  EXPECT_THAT(error_of("79/#"), HasSubstr("segment 2 has invalid character '#'"));
  EXPECT_THAT(error_of("79/\xc4\x91"), HasSubstr("segment 2 has invalid character 0xc4"));
  EXPECT_THAT(error_of("a/" + std::string(kMaxAreaSegment + 1, 'b')),
              HasSubstr("segment 2 is 33 characters long (at most 32)"));
  EXPECT_THAT(error_of(std::string(kMaxAreaPathLength + 1, '1')),
              HasSubstr("is 129 characters long (at most 128)"));
  EXPECT_THAT(error_of("1/2/3/4/5/6/7/8/9"), HasSubstr("has more than 8 segments"));
}

TEST(AreaPath, LimitsAreInclusive) {
  EXPECT_TRUE(AreaPath::parse("1/2/3/4/5/6/7/8").ok());
  EXPECT_TRUE(AreaPath::parse(std::string(kMaxAreaSegment, 'x')).ok());
  const std::string seg(kMaxAreaSegment, 'a');
  const std::string longest = seg + "/" + seg + "/" + seg + "/" + std::string(29, 'b');
  ASSERT_EQ(longest.size(), kMaxAreaPathLength);
  EXPECT_TRUE(AreaPath::parse(longest).ok()) << error_of(longest);
}

TEST(AreaPath, AncestorsShortestFirst) {
  auto path = AreaPath::parse("79/26734/03");
  ASSERT_TRUE(path.ok());
  const auto chain = path->self_and_ancestors();
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].str(), "79");
  EXPECT_EQ(chain[1].str(), "79/26734");
  EXPECT_EQ(chain[2].str(), "79/26734/03");
  EXPECT_EQ(chain[1].depth(), 2u);
  EXPECT_EQ(chain[2], *path);
}

TEST(AreaPath, Contains) {
  auto province = AreaPath::parse("79");
  auto commune = AreaPath::parse("79/26734");
  auto other = AreaPath::parse("791/26734");
  ASSERT_TRUE(province.ok() && commune.ok() && other.ok());
  EXPECT_TRUE(province->contains(*commune));
  EXPECT_TRUE(province->contains(*province));
  EXPECT_FALSE(commune->contains(*province));
  EXPECT_FALSE(province->contains(*other));  // a prefix of the text is not an ancestor
  EXPECT_TRUE(*province < *commune);
}

TEST(NodeId, Validation) {
  EXPECT_TRUE(validate_node_id("hcm-q1_007").ok());
  EXPECT_TRUE(validate_node_id(std::string(64, 'a')).ok());
  EXPECT_EQ(validate_node_id("").message(), "node id is empty");
  EXPECT_THAT(validate_node_id(std::string(65, 'a')).message(),
              HasSubstr("65 characters long (at most 64)"));
  EXPECT_EQ(validate_node_id("a/b").message(),
            "node id 'a/b' has invalid character '/' at position 1 (allowed: 0-9 A-Z a-z _ -)");
  EXPECT_THAT(validate_node_id("a\nb").message(), HasSubstr("node id 'a?b'"));
  EXPECT_FALSE(validate_node_id("+").ok());
}

}  // namespace
}  // namespace loa::protocol
