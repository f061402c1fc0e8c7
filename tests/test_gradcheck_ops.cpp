// Every op's float64 gradient check, one TEST_CASE per op family. The last
// case proves the families together cover the whole suite, so a check added
// to autograd/gradcheck_ops.cpp cannot be silently left out of the tests.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "autograd/gradcheck.h"

using namespace attnlab;

namespace {

const std::vector<std::string> kFamilies = {"add",
                                            "sub",
                                            "mul",
                                            "div",
                                            "neg",
                                            "exp",
                                            "log",
                                            "sqrt",
                                            "tanh",
                                            "relu",
                                            "gelu",
                                            "matmul",
                                            "linear",
                                            "reshape",
                                            "permute",
                                            "transpose",
                                            "split_heads",
                                            "merge_heads",
                                            "slice",
                                            "concat",
                                            "sum",
                                            "mean",
                                            "softmax",
                                            "log_softmax",
                                            "masked_fill",
                                            "flash_attention",
                                            "additive_mask",
                                            "embedding",
                                            "layer_norm",
                                            "rms_norm",
                                            "dropout",
                                            "cross_entropy",
                                            "attention_weights",
                                            "attention_values"};

bool in_family(const std::string& name, const std::string& family) {
  return name == family || name.rfind(family + "/", 0) == 0 || name.rfind(family + "_", 0) == 0;
}

void check_family(const std::string& family) {
  int ran = 0;
  for (const auto& c : op_gradcheck_cases()) {
    if (!in_family(c.name, family)) continue;
    ++ran;
    INFO(c.name << " " << c.shapes);
    GradCheckResult r = c.run();
    INFO("worst: " << r.worst << " max abs " << r.max_abs_error);
    CHECK(r.passed);
    CHECK(r.checked > 0);
  }
  REQUIRE(ran > 0);
}

}  // namespace

TEST_CASE("gradcheck: add") {
  check_family("add");
}
TEST_CASE("gradcheck: sub") {
  check_family("sub");
}
TEST_CASE("gradcheck: mul") {
  check_family("mul");
}
TEST_CASE("gradcheck: div") {
  check_family("div");
}
TEST_CASE("gradcheck: neg") {
  check_family("neg");
}
TEST_CASE("gradcheck: exp") {
  check_family("exp");
}
TEST_CASE("gradcheck: log") {
  check_family("log");
}
TEST_CASE("gradcheck: sqrt") {
  check_family("sqrt");
}
TEST_CASE("gradcheck: tanh") {
  check_family("tanh");
}
TEST_CASE("gradcheck: relu") {
  check_family("relu");
}
TEST_CASE("gradcheck: gelu") {
  check_family("gelu");
}
TEST_CASE("gradcheck: matmul") {
  check_family("matmul");
}
TEST_CASE("gradcheck: linear") {
  check_family("linear");
}
TEST_CASE("gradcheck: reshape") {
  check_family("reshape");
}
TEST_CASE("gradcheck: permute") {
  check_family("permute");
}
TEST_CASE("gradcheck: transpose") {
  check_family("transpose");
}
TEST_CASE("gradcheck: split_heads") {
  check_family("split_heads");
}
TEST_CASE("gradcheck: merge_heads") {
  check_family("merge_heads");
}
TEST_CASE("gradcheck: slice") {
  check_family("slice");
}
TEST_CASE("gradcheck: concat") {
  check_family("concat");
}
TEST_CASE("gradcheck: sum") {
  check_family("sum");
}
TEST_CASE("gradcheck: mean") {
  check_family("mean");
}
TEST_CASE("gradcheck: softmax") {
  check_family("softmax");
}
TEST_CASE("gradcheck: log_softmax") {
  check_family("log_softmax");
}
TEST_CASE("gradcheck: masked_fill") {
  check_family("masked_fill");
}
TEST_CASE("gradcheck: additive_mask") {
  check_family("additive_mask");
}
TEST_CASE("gradcheck: embedding") {
  check_family("embedding");
}
TEST_CASE("gradcheck: layer_norm") {
  check_family("layer_norm");
}
TEST_CASE("gradcheck: rms_norm") {
  check_family("rms_norm");
}
TEST_CASE("gradcheck: dropout") {
  check_family("dropout");
}
TEST_CASE("gradcheck: cross_entropy") {
  check_family("cross_entropy");
}

TEST_CASE("gradcheck: attention_weights") {
  check_family("attention_weights");
}

TEST_CASE("gradcheck: attention_values") {
  check_family("attention_values");
}

TEST_CASE("gradcheck: flash_attention") {
  check_family("flash_attention");
}

TEST_CASE("gradcheck: every op check belongs to a tested family") {
  for (const auto& c : op_gradcheck_cases()) {
    bool covered = false;
    for (const auto& f : kFamilies) covered = covered || in_family(c.name, f);
    INFO(c.name);
    CHECK(covered);
  }
}
