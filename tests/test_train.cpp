// Training end to end on tiny runs: learning happens, checkpoints round-trip,
// resume is bit-identical, saves are atomic, bad checkpoints are refused.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "autograd/parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/kernels/gemm.h"
#include "documented_checksums.h"
#include "io/hdf5.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

using namespace attnlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("attnlab_test_{}_{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A run small enough to take well under a second per few dozen steps.
TrainConfig tiny_run(const std::string& model, const std::string& task, const fs::path& out) {
  TrainConfig c = recipe(family_from_name(model), task);
  c.model_overrides = {{"d_model", "32"}, {"n_heads", "2"},          {"d_ff", "64"},
                       {"n_layers", "1"}, {"n_decoder_layers", "1"}, {"dropout", "0.1"},
                       {"max_len", "80"}};
  c.train_size = 400;
  c.valid_size = 40;
  c.batch_size = 16;
  c.steps = 30;
  c.warmup = 5;
  c.lr = 3e-3;
  c.eval_every = 0;
  c.eval_examples = 40;
  c.save_every = 0;
  c.out = out.string();
  return c;
}

std::vector<float> flat_parameters(const Model& m) {
  std::vector<float> out;
  for (auto& [name, p] : m.named_parameters())
    for (int64_t i = 0; i < p.numel(); ++i) out.push_back(p.data<float>()[i]);
  return out;
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

// A run with products large enough for bfloat16 rounding to show.
TrainConfig bf16_run(const std::string& model, const std::string& task, const fs::path& out) {
  TrainConfig c = tiny_run(model, task, out);
  c.model_overrides["d_model"] = "64";
  c.model_overrides["d_ff"] = "128";
  c.model_overrides["n_layers"] = "2";
  c.train_size = 600;
  c.valid_size = 50;
  c.eval_examples = 50;
  c.steps = 120;
  c.warmup = 10;
  c.log_every = 10;
  return c;
}

}  // namespace

TEST_CASE("train: a short run learns (loss falls well below its start)") {
  fs::path dir = fresh_dir("learn");
  for (std::string model : {"gpt", "t5"}) {
    TrainConfig c = tiny_run(model, "numbers", dir / model);
    c.steps = 150;
    Trainer t(c, quiet());
    TrainResult r = t.run();
    INFO(model << " first loss " << r.first_loss << " last " << r.last_loss);
    CHECK(r.last_loss < 0.6 * r.first_loss);
    CHECK(fs::exists(dir / model / "checkpoint.h5"));
    CHECK(fs::exists(dir / model / "metrics.jsonl"));
  }
  TrainConfig c = tiny_run("bert", "majority", dir / "bert");
  c.steps = 100;
  TrainResult r = Trainer(c, quiet()).run();
  CHECK(r.final_metrics.classification);
  CHECK(r.last_loss < r.first_loss);
  fs::remove_all(dir);
}

TEST_CASE("train: N steps equal N/2, save, resume, N/2 bit for bit") {
  fs::path dir = fresh_dir("resume");
  TrainConfig c = tiny_run("gpt", "reverse", dir / "straight");
  c.steps = 24;
  c.batch_size = 8;  // several epochs' worth of batches is not needed; dropout is on
  Trainer straight(c, quiet());
  straight.run();
  std::vector<float> expected = flat_parameters(straight.model());

  c.out = (dir / "split").string();
  TrainerOptions first = quiet();
  first.stop_at = 12;
  Trainer(c, first).run();
  CHECK(read_checkpoint_info((dir / "split" / "checkpoint.h5").string()).state.step == 12);
  TrainerOptions second = quiet();
  second.resume = true;
  Trainer resumed(c, second);
  resumed.run();
  std::vector<float> got = flat_parameters(resumed.model());
  REQUIRE(got.size() == expected.size());
  CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
  fs::remove_all(dir);
}

TEST_CASE("train: a language model resumes bit for bit, across the ends of epochs") {
  fs::path dir = fresh_dir("resume_lm");
  {
    // 12 lines of 10 characters; the last line is held out. A block of 8
    // and its next token fit at 110 - 8 = 102 offsets: 13 batches of 8 an epoch.
    std::ofstream text(dir / "text.txt");
    for (int i = 0; i < 12; ++i) text << "abcdefghi\n";
  }
  // Each family's own objective: masks, spans and prefix splits are drawn
  // anew every step. Subword runs resume with the tokenizer they stored.
  for (const std::string variant : {"gpt", "gpt-prefix", "bert", "t5", "gpt-bpe", "t5-unigram"}) {
    INFO(variant);
    const std::string model = variant.substr(0, variant.find('-'));
    TrainConfig c = tiny_run(model, "", dir / variant / "straight");
    if (variant == "gpt-prefix") c.model_overrides["prefix_lm"] = "true";
    if (variant == "gpt-bpe") c.tokenizer = TokenizerChoice::Bpe;
    if (variant == "t5-unigram") c.tokenizer = TokenizerChoice::Unigram;
    if (is_subword(c.tokenizer)) c.vocab_size = 18;  // no merges: the held-out line keeps 10 tokens
    c.task_kind = data::TaskKind::LanguageModel;
    c.train_file = (dir / "text.txt").string();
    c.block_size = 8;
    c.batch_size = 8;
    c.steps = 30;  // in the third epoch
    Trainer straight(c, quiet());
    straight.run();
    const std::vector<float> expected = flat_parameters(straight.model());

    c.out = (dir / variant / "split").string();
    TrainerOptions first = quiet();
    first.stop_at = 7;  // in the first epoch
    Trainer(c, first).run();
    TrainerOptions second = quiet();
    second.resume = true;
    second.stop_at = 16;  // in the second
    Trainer(c, second).run();
    TrainerOptions third = quiet();
    third.resume = true;
    Trainer resumed(c, third);
    resumed.run();
    const std::vector<float> got = flat_parameters(resumed.model());
    REQUIRE(got.size() == expected.size());
    CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
  }
  fs::remove_all(dir);
}

TEST_CASE("train: resume is bit for bit with the masked-LM auxiliary loss too") {
  fs::path dir = fresh_dir("resume_mlm");
  TrainConfig c = tiny_run("bert", "brackets", dir / "straight");
  c.steps = 16;
  c.mlm_weight = 0.5;
  Trainer straight(c, quiet());
  straight.run();
  const std::vector<float> expected = flat_parameters(straight.model());
  c.out = (dir / "split").string();
  TrainerOptions first = quiet();
  first.stop_at = 8;
  Trainer(c, first).run();
  TrainerOptions second = quiet();
  second.resume = true;
  Trainer resumed(c, second);
  resumed.run();
  const std::vector<float> got = flat_parameters(resumed.model());
  REQUIRE(got.size() == expected.size());
  CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0);
  fs::remove_all(dir);
}

TEST_CASE("train: the masked-LM auxiliary loss is learned alongside the label") {
  fs::path dir = fresh_dir("mlm");
  TrainConfig c = tiny_run("bert", "brackets", dir);
  c.steps = 150;
  c.mlm_weight = 1.0;
  Trainer trainer(c, quiet());
  // The auxiliary part alone: the loss with it minus the loss without, on the same batch and
  // masking, in eval mode so dropout draws do not differ between the two.
  auto mlm_part = [&] {
    Model& m = trainer.model();
    m.eval();
    NoGradGuard no_grad;
    const std::vector<size_t> rows = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const auto& w = trainer.framing();
    const double with = w.loss(trainer.train_examples(), rows, {0.0, 1.0, 42}).item();
    const double without = w.loss(trainer.train_examples(), rows, {0.0, 0.0, 42}).item();
    m.train();
    return with - without;
  };
  const double before = mlm_part();
  trainer.run();
  const double after = mlm_part();
  INFO("masked-LM loss before " << before << " after " << after);
  CHECK(before > 0);
  CHECK(after < 0.8 * before);
  fs::remove_all(dir);

  TrainConfig gpt = tiny_run("gpt", "brackets", dir);
  gpt.mlm_weight = 1.0;
  CHECK_THROWS_WITH(validate(gpt), Contains("--mlm-weight") && Contains("BERT"));
}

TEST_CASE("train: a checkpoint round-trips config, vocabulary, labels and parameters") {
  fs::path dir = fresh_dir("roundtrip");
  TrainConfig c = tiny_run("bert", "brackets", dir);
  c.steps = 3;
  Trainer t(c, quiet());
  t.run();
  const std::string path = t.checkpoint_path();
  CheckpointInfo info = read_checkpoint_info(path);
  CHECK(info.train.task == "brackets");
  CHECK(info.model.family == Family::BERT);
  CHECK(info.labels == std::vector<std::string>{"balanced", "unbalanced"});
  CHECK(info.vocab_tokens[0] == "<pad>");
  CHECK(info.state.step == 3);
  auto model = make_model(info.model);
  load_parameters(path, *model);
  CHECK(flat_parameters(*model) == flat_parameters(t.model()));
  // Keys read like module paths, as h5py users will see them.
  H5File f = H5File::open_read(path);
  CHECK(f.is_dataset("params/encoder/layers/0/self_attn/q_proj/weight"));
  CHECK(f.get_attribute("/", "format") == "attnlab-checkpoint");
  // A built-in classification task is stored as what it is.
  CHECK(f.get_attribute("train_config", "task_kind") == "classification");
  CHECK(info.train.task_kind == data::TaskKind::Classification);
  CHECK(f.read_string("train_config/model") == "bert");
  fs::remove_all(dir);
}

TEST_CASE("train: the checkpoint checksum is the documented one, format 1 files still load") {
  fs::path dir = fresh_dir("checksum");
  TrainConfig c = tiny_run("t5", "reverse", dir);
  c.steps = 1;
  Trainer t(c, quiet());
  t.run();
  const std::string path = t.checkpoint_path();
  std::vector<std::string> sorted;
  {
    H5File f = H5File::open_read(path);
    sorted = f.list_datasets("params");
    std::sort(sorted.begin(), sorted.end());
    CHECK(f.get_attribute("/", "format_version") == "5");
    CHECK(f.get_attribute("/", "checksum") ==
          fmt::format("{:016x}", documented::parameter_checksum(f, sorted, 5)));
    CHECK(f.get_attribute("/", "optimizer_checksum") ==
          fmt::format("{:016x}", documented::optimizer_checksum(f)));
    CHECK(f.get_attribute("/", "info_checksum") ==
          fmt::format("{:016x}", documented::info_checksum(f)));
  }
  // Format 1 summed in registration order: such a file still loads, and a
  // format-1 file with a sorted-order checksum is refused. Files before
  // format 4 have no info checksum.
  std::vector<std::string> registration;
  for (const auto& [name, tensor] : t.model().named_parameters())
    registration.push_back("params/" + name);
  REQUIRE(registration != sorted);
  fs::path v1 = dir / "v1.h5";
  fs::copy_file(path, v1);
  {
    H5File f = H5File::open_rw(v1.string());
    f.set_attribute("/", "format_version", "1");
    f.remove_attribute("/", "info_checksum");
    f.set_attribute("/", "checksum",
                    fmt::format("{:016x}", documented::parameter_checksum(f, registration, 1)));
  }
  auto model = make_model(read_checkpoint_info(v1.string()).model);
  CHECK_NOTHROW(load_parameters(v1.string(), *model));
  {
    H5File f = H5File::open_rw(v1.string());
    f.set_attribute("/", "checksum",
                    fmt::format("{:016x}", documented::parameter_checksum(f, sorted, 1)));
  }
  CHECK_THROWS_WITH(load_parameters(v1.string(), *model), Contains("checksum mismatch"));
  fs::remove_all(dir);
}

TEST_CASE("train: bad checkpoints are refused with a message that says why") {
  fs::path dir = fresh_dir("corrupt");
  TrainConfig c = tiny_run("gpt", "reverse", dir);
  c.steps = 2;
  Trainer t(c, quiet());
  t.run();
  const fs::path good = t.checkpoint_path();

  fs::path truncated = dir / "truncated.h5";
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  CHECK_THROWS_WITH(read_checkpoint_info(truncated.string()), Contains("truncated.h5"));

  fs::path garbage = dir / "garbage.h5";
  std::ofstream(garbage) << "this is not an HDF5 file\n";
  CHECK_THROWS_WITH(read_checkpoint_info(garbage.string()), Contains("garbage.h5"));

  fs::path foreign = dir / "foreign.h5";
  {
    H5File f = H5File::create(foreign.string());
    f.write<double>("weights", {1, 2, 3}, {3});
  }
  CHECK_THROWS_WITH(read_checkpoint_info(foreign.string()), Contains("not an attnlab checkpoint"));

  fs::path future = dir / "future.h5";
  fs::copy_file(good, future);
  {
    H5File f = H5File::open_rw(future.string());
    f.set_attribute("/", "format_version", "99");
  }
  CHECK_THROWS_WITH(read_checkpoint_info(future.string()), Contains("version 99 is not supported"));

  // A flipped weight: HDF5 itself does not notice, the checksum does.
  fs::path flipped = dir / "flipped.h5";
  fs::copy_file(good, flipped);
  {
    H5File f = H5File::open_rw(flipped.string());
    auto w = f.read<float>("params/token_embedding/weight");
    f.remove("params/token_embedding/weight");
    w.values[3] += 0.5f;
    f.write<float>("params/token_embedding/weight", w.values, w.shape);
  }
  auto model = make_model(read_checkpoint_info(flipped.string()).model);
  CHECK_THROWS_WITH(load_parameters(flipped.string(), *model), Contains("checksum mismatch"));

  // A checkpoint of another architecture.
  ModelConfig other = read_checkpoint_info(good.string()).model;
  other.n_layers = 2;
  auto bigger = make_model(other);
  CHECK_THROWS_WITH(load_parameters(good.string(), *bigger),
                    Contains("decoder/layers/1") && Contains("missing"));
  fs::remove_all(dir);
}

TEST_CASE("train: killing the process while saving never breaks the previous checkpoint") {
  fs::path dir = fresh_dir("atomic");
  TrainConfig c = tiny_run("t5", "reverse", dir);
  c.steps = 1;
  Trainer t(c, quiet());
  t.run();
  const std::string path = t.checkpoint_path();
  CheckpointInfo info = read_checkpoint_info(path);
  for (int attempt = 0; attempt < 6; ++attempt) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {       // save over and over until killed
      set_thread_count(1);  // the thread pool does not survive fork()
      for (;;) save_checkpoint(path, info, t.model(), nullptr);
    }
    ::usleep(useconds_t(3000 + attempt * 7000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Whatever moment the kill hit, the file at `path` is a whole checkpoint.
    auto model = make_model(read_checkpoint_info(path).model);
    CHECK_NOTHROW(load_parameters(path, *model));
  }
  fs::remove_all(dir);
}

TEST_CASE("train: a non-finite loss stops training with a clear message") {
  fs::path dir = fresh_dir("nan");
  TrainConfig c = tiny_run("gpt", "reverse", dir);
  Trainer t(c, quiet());
  for (auto& [name, p] : t.model().named_parameters())
    if (name == "token_embedding/weight") p.data<float>()[0] = NAN;
  CHECK_THROWS_WITH(t.run(), Contains("step 1: the loss is nan") && Contains("--lr"));
  fs::remove_all(dir);
}

TEST_CASE("train: encoder-only models refuse translation tasks") {
  fs::path dir = fresh_dir("refuse");
  CHECK_THROWS_WITH(Trainer(tiny_run("bert", "dates", dir), quiet()),
                    Contains("cannot translate") && Contains("--model gpt or --model t5"));
  fs::remove_all(dir);
}

TEST_CASE("train: --tokenizer auto picks words for multi-word classification texts of your own") {
  data::Dataset d;
  d.kind = data::TaskKind::Classification;
  d.train = {{"free software for servers", "a"}, {"a small library", "b"}};  // 3.5 words each
  CHECK(resolve_tokenizer(TokenizerChoice::Auto, d, false) == data::TokenizerKind::Word);
  CHECK(resolve_tokenizer(TokenizerChoice::Auto, d, true) ==
        data::TokenizerKind::Char);  // built-in
  CHECK(resolve_tokenizer(TokenizerChoice::Char, d, false) == data::TokenizerKind::Char);
  d.train = {{"réévaluées", "a"}, {"trashcans", "b"}};  // single words: characters carry it
  CHECK(resolve_tokenizer(TokenizerChoice::Auto, d, false) == data::TokenizerKind::Char);
  d.kind = data::TaskKind::Translation;  // outputs are built from tokens: characters never fail
  d.train = {{"one two three four", "1 2 3 4"}};
  CHECK(resolve_tokenizer(TokenizerChoice::Auto, d, false) == data::TokenizerKind::Char);
}

// ---- --precision bf16: the losses follow float32's, a resumed run is bit for
// bit, the precision is stored with the run and ends with it.

TEST_CASE("bf16 training: the loss curve follows float32's on two tasks") {
  const fs::path dir = fresh_dir("bf16_curve");
  if (!bf16_supported()) {
    TrainConfig c = bf16_run("gpt", "numbers", dir / "refused");
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
      TrainConfig c = bf16_run(model, task, dir / fmt::format("{}-{}", model, int(p)));
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
  TrainConfig c = bf16_run("gpt", "reverse", dir / "straight");
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
