// The folders a burst creates before its workers start.
#include "agent/folder_plan.h"

#include <gtest/gtest.h>

namespace eca {
namespace {

using Paths = std::vector<std::string>;

TEST(FolderPlanTest, CommonParentIsTheDeepestSharedFolder) {
  EXPECT_EQ(common_parent({"/salesforce/prod/a", "/salesforce/prod/b"}), "/salesforce/prod");
  EXPECT_EQ(common_parent({"/salesforce/prod/a", "/salesforce/dev/a"}), "/salesforce");
  EXPECT_EQ(common_parent({"/salesforce/prod", "/salesforce/prodx"}), "/salesforce");
  EXPECT_EQ(common_parent({"/a", "/b"}), "/");
  // A folder that is itself wanted may be missing: list from above it.
  EXPECT_EQ(common_parent({"/salesforce/prod", "/salesforce/prod/a"}), "/salesforce");
  EXPECT_EQ(common_parent({"/only"}), "/");
  EXPECT_EQ(common_parent({}), "/");
}

TEST(FolderPlanTest, OnlyTheMissingParentsTheRotationsShareAreCreatedFirst) {
  // The rotations' own folders are left to each rotation: their parent exists.
  const std::set<std::string> existing = {"/salesforce", "/salesforce/a"};
  EXPECT_TRUE(folders_to_create({"/salesforce/a", "/salesforce/b", "/salesforce/c", "/"}, existing)
                  .empty());
  // A new parent is created once, before (a create of its deepest missing level makes the
  // levels above it).
  EXPECT_EQ(folders_to_create({"/sf/prod/a", "/sf/prod/b"}, {}), (Paths{"/sf/prod"}));
  EXPECT_EQ(folders_to_create({"/sf/prod/a", "/sf/dev/a", "/other"}, {"/other"}),
            (Paths{"/sf/dev", "/sf/prod"}));
  // A wanted folder that is another's parent is created first too.
  EXPECT_EQ(folders_to_create({"/x", "/x/y"}, {}), (Paths{"/x"}));
}

}  // namespace
}  // namespace eca
