// Choices: an enum's names written once, read back, listed in errors.

#include <gtest/gtest.h>

#include "ganaug/choices.hpp"
#include "test_support.hpp"

// Each test file in a namespace of its own (unity builds).
namespace ganaug_tests_choices {

enum class Fruit { kApple, kPear, kPlum, kOther };

const ganaug::Choices<Fruit>& fruits() {
  static const ganaug::Choices<Fruit> choices("fruit",
                                              {{Fruit::kApple, "apple"},
                                               {Fruit::kPear, "pear"},
                                               {Fruit::kPlum, "plum"},
                                               {Fruit::kOther, "other"}},
                                              "a file of fruit", {Fruit::kOther});
  return choices;
}

TEST(Choices, NamesReadBackAndTheTableOrderIsKept) {
  for (const auto fruit : fruits().values()) {
    if (fruit != Fruit::kOther) {
      EXPECT_EQ(fruits().parse(fruits().name(fruit)), fruit);
    }
  }
  EXPECT_EQ(fruits().values(),
            (std::vector<Fruit>{Fruit::kApple, Fruit::kPear, Fruit::kPlum, Fruit::kOther}));
  EXPECT_EQ(fruits().name(Fruit::kPear), "pear");
}

TEST(Choices, AnUnknownNameIsRefusedNamingWhatIsAccepted) {
  ganaug::testing::expect_error([] { fruits().parse("fig"); },
                                {"unknown fruit 'fig': use apple, pear, plum or a file of fruit"});
  // A value only `otherwise` gives has a name for output, not for input.
  EXPECT_EQ(fruits().name(Fruit::kOther), "other");
  ganaug::testing::expect_error([] { fruits().parse("other"); }, {"unknown fruit 'other'"});
  ganaug::testing::expect_error([] { fruits().name(static_cast<Fruit>(7)); }, {"invalid fruit 7"});
  const ganaug::Choices<Fruit> two("fruit", {{Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}});
  EXPECT_EQ(two.list(), "apple or pear");
  EXPECT_EQ(ganaug::list_names({"a"}), "a");
  EXPECT_EQ(ganaug::list_names({}), "");
}

}  // namespace ganaug_tests_choices
