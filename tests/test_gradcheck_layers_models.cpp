// Float64 gradient checks of every layer and every model preset, one
// TEST_CASE each (the cases live in layers/ and models/ so that
// `attnlab gradcheck` runs the very same checks).
#include <catch2/catch.hpp>

#include "layers/gradcheck_layers.h"
#include "models/gradcheck_models.h"

using namespace attnlab;

namespace {
void run_named(const std::vector<GradCheckCase>& cases, const std::string& name) {
  for (const auto& c : cases) {
    if (c.name != name) continue;
    GradCheckResult r = c.run();
    INFO(c.name << " " << c.shapes << " worst: " << r.worst);
    CHECK(r.passed);
    CHECK(r.checked > 0);
    return;
  }
  FAIL("no gradient check named " << name);
}
}  // namespace

TEST_CASE("gradcheck: every layer") {
  auto cases = layer_gradcheck_cases();
  REQUIRE(cases.size() >= 15);
  for (const auto& c : cases) {
    SECTION(c.name) {
      run_named(cases, c.name);
    }
  }
}

TEST_CASE("gradcheck: model bert (classification and tied MLM head)") {
  run_named(model_gradcheck_cases(), "model/bert_classify");
  run_named(model_gradcheck_cases(), "model/bert_mlm");
}
TEST_CASE("gradcheck: model gpt") {
  run_named(model_gradcheck_cases(), "model/gpt_lm");
}
TEST_CASE("gradcheck: model t5") {
  run_named(model_gradcheck_cases(), "model/t5_seq2seq");
}
TEST_CASE("gradcheck: model perceiver") {
  run_named(model_gradcheck_cases(), "model/perceiver_classify");
}
