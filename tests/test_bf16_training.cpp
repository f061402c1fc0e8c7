// Training with --precision bf16: the losses follow float32's, a resumed run
// is bit for bit, the precision is stored with the run and ends with it.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/kernels/gemm.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

using namespace attnlab;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("attnlab_test_{}_{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TrainConfig small_run(const std::string& model, const std::string& task, const fs::path& out) {
  TrainConfig c = recipe(family_from_name(model), task);
  c.model_overrides = {{"d_model", "64"}, {"n_heads", "2"},          {"d_ff", "128"},
                       {"n_layers", "2"}, {"n_decoder_layers", "1"}, {"dropout", "0.1"},
                       {"max_len", "80"}};
  c.train_size = 600;
  c.valid_size = 50;
  c.batch_size = 16;
  c.steps = 120;
  c.warmup = 10;
  c.lr = 3e-3;
  c.eval_every = 0;
  c.eval_examples = 50;
  c.save_every = 0;
  c.log_every = 10;
  c.out = out.string();
  return c;
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  o.show_predictions = 0;
  return o;
}

// The training losses metrics.jsonl logged, in step order.
std::vector<double> logged_losses(const fs::path& run) {
  std::vector<double> losses;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("split", "") == "train" && j.contains("loss"))
      losses.push_back(j["loss"].get<double>());
  }
  return losses;
}

std::vector<float> flat_parameters(const Model& m) {
  std::vector<float> out;
  for (auto& [name, p] : m.named_parameters())
    for (int64_t i = 0; i < p.numel(); ++i) out.push_back(p.data<float>()[i]);
  return out;
}

}  // namespace

TEST_CASE("bf16 training: the loss curve follows float32's on two tasks") {
  const fs::path dir = fresh_dir("bf16_curve");
  if (!bf16_supported()) {
    TrainConfig c = small_run("gpt", "numbers", dir / "refused");
    c.precision = MatmulPrecision::BFloat16;
    CHECK_NOTHROW(validate(c));  // a stored bf16 config still reads anywhere
    CHECK_THROWS_WITH(Trainer(c, quiet()),
                      Catch::Contains("--precision bf16") && Catch::Contains("AVX-512 BF16"));
    WARN("this CPU has no AVX-512 BF16: only the refusal is tested");
    fs::remove_all(dir);
    return;
  }
  // The tolerance: every logged loss (10-step means) within 8% of float32's
  // plus 0.03. Rounding the products' inputs to 8 bits changes each step a
  // little and the runs drift apart, but they learn alike.
  for (const auto& run : {std::pair{"gpt", "numbers"}, std::pair{"t5", "reverse"}}) {
    const std::string model = run.first, task = run.second;
    INFO(model << " on " << task);
    std::vector<std::vector<double>> curves;
    std::vector<TrainResult> results;
    for (const MatmulPrecision p : {MatmulPrecision::Float32, MatmulPrecision::BFloat16}) {
      TrainConfig c = small_run(model, task, dir / fmt::format("{}-{}", model, int(p)));
      c.precision = p;
      Trainer t(c, quiet());
      CHECK(matmul_precision() == p);
      results.push_back(t.run());
      curves.push_back(logged_losses(c.out));
    }
    CHECK(matmul_precision() == MatmulPrecision::Float32);  // the run's precision ended with it
    REQUIRE(curves[0].size() == 12);
    REQUIRE(curves[1].size() == curves[0].size());
    for (size_t i = 0; i < curves[0].size(); ++i) {
      INFO("logged loss " << i << ": float32 " << curves[0][i] << ", bf16 " << curves[1][i]);
      CHECK(std::abs(curves[1][i] - curves[0][i]) <= 0.08 * curves[0][i] + 0.03);
    }
    CHECK(curves[1] != curves[0]);                              // the products were rounded
    CHECK(results[1].last_loss < 0.6 * results[1].first_loss);  // and bf16 learned
  }
  fs::remove_all(dir);
}

TEST_CASE("bf16 training: N steps equal N/2, save, resume, N/2 bit for bit") {
  if (!bf16_supported()) return;
  const fs::path dir = fresh_dir("bf16_resume");
  TrainConfig c = small_run("gpt", "reverse", dir / "straight");
  c.steps = 24;
  c.precision = MatmulPrecision::BFloat16;
  Trainer straight(c, quiet());
  straight.run();
  const std::vector<float> expected = flat_parameters(straight.model());

  c.out = (dir / "split").string();
  TrainerOptions first = quiet();
  first.stop_at = 12;
  Trainer(c, first).run();
  CHECK(read_checkpoint_info((dir / "split" / "checkpoint.h5").string()).train.precision ==
        MatmulPrecision::BFloat16);
  // The resumed run takes bf16 from its checkpoint, not from the caller.
  TrainConfig asked = c;
  asked.precision = MatmulPrecision::Float32;
  TrainerOptions second = quiet();
  second.resume = true;
  Trainer resumed(asked, second);
  CHECK(matmul_precision() == MatmulPrecision::BFloat16);
  resumed.run();
  const std::vector<float> got = flat_parameters(resumed.model());
  REQUIRE(got.size() == expected.size());
  CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
  fs::remove_all(dir);
}
