// Pretrain, then fine-tune (train --init-from): the pretrained body is
// loaded exactly, a new head is initialised, and a checkpoint that cannot
// start the run is refused by name.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli_process.h"
#include "common/errors.h"
#include "io/hdf5.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

using namespace attnlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

using cli_test::fresh_dir;

namespace {

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  o.show_predictions = 0;
  return o;
}

TrainConfig small(const std::string& model, const fs::path& out) {
  TrainConfig c;
  c.model = family_from_name(model);
  c.model_overrides = {{"d_model", "32"},       {"n_heads", "2"}, {"d_ff", "64"},
                       {"n_layers", "2"},       {"dropout", "0"}, {"n_decoder_layers", "1"},
                       {"positions", "learned"}};
  c.batch_size = 8;
  c.steps = 20;
  c.warmup = 2;
  c.eval_every = 0;
  c.eval_examples = 20;
  c.save_every = 0;
  c.out = out.string();
  return c;
}

}  // namespace

TEST_CASE("init from: a pretrained body is loaded exactly and a new head starts fresh") {
  const fs::path dir = fresh_dir("init_from");
  {
    std::ofstream text(dir / "text.txt");
    for (int i = 0; i < 80; ++i) text << "good films and bad films " << i << "\n";
    std::ofstream tsv(dir / "labels.tsv");
    for (int i = 0; i < 60; ++i) tsv << (i % 2 ? "pos\tgood film " : "neg\tbad film ") << i << "\n";
  }
  // BERT pretrained with its masked LM on the text.
  TrainConfig pre = small("bert", dir / "pre");
  pre.task_kind = data::TaskKind::LanguageModel;
  pre.train_file = (dir / "text.txt").string();
  pre.block_size = 16;
  Trainer(pre, quiet()).run();
  const std::string ckpt = (dir / "pre" / "checkpoint.h5").string();

  // Fine-tuned on labels: its shape options are left out, as the CLI leaves them.
  TrainConfig fine = small("bert", dir / "fine");
  fine.model_overrides.clear();
  fine.task_kind = data::TaskKind::Classification;
  fine.train_file = (dir / "labels.tsv").string();
  fine.init_from = ckpt;
  auto t = std::make_unique<Trainer>(fine, quiet());
  const CheckpointInfo stored = read_checkpoint_info(ckpt);
  CHECK(t->model().config().d_model == 32);
  CHECK(t->model().config().num_classes == 2);
  const H5File f = H5File::open_read(ckpt);
  int64_t loaded = 0;
  for (const auto& [name, p] : t->model().named_parameters()) {
    INFO(name);
    const bool head = name.rfind("classifier/", 0) == 0;
    if (head) {
      CHECK(p.size(0) == 2);  // a new head for the 2 labels (the pretrained one had 1 class)
      continue;
    }
    const std::vector<float> want = f.read<float>("params/" + name).values;
    REQUIRE(int64_t(want.size()) == p.numel());
    CHECK(std::memcmp(want.data(), p.data<float>(), want.size() * sizeof(float)) == 0);
    ++loaded;
  }
  CHECK(loaded > 20);
  // The vocabulary is the pretrained one, whatever the new data holds.
  t->run();
  const std::string fine_ckpt = t->checkpoint_path();
  t.reset();  // releases the run directory
  CHECK(read_checkpoint_info(fine_ckpt).vocab_tokens == stored.vocab_tokens);
  CHECK(read_checkpoint_info(fine_ckpt).train.init_from == ckpt);
  // It resumes with that vocabulary too.
  TrainerOptions more = quiet();
  more.resume = true;
  more.resume_steps = 25;
  CHECK(Trainer(fine, more).run().steps == 25);
  fs::remove_all(dir);
}

TEST_CASE("init from: a checkpoint that cannot start the run is refused by name") {
  const fs::path dir = fresh_dir("init_from_refusals");
  {
    std::ofstream text(dir / "text.txt");
    for (int i = 0; i < 80; ++i) text << "good films and bad films " << i << "\n";
  }
  TrainConfig pre = small("gpt", dir / "pre");
  pre.task_kind = data::TaskKind::LanguageModel;
  pre.train_file = (dir / "text.txt").string();
  pre.block_size = 16;
  Trainer(pre, quiet()).run();
  const std::string ckpt = (dir / "pre" / "checkpoint.h5").string();

  TrainConfig c = small("bert", dir / "a");
  c.model_overrides.clear();
  c.task_kind = data::TaskKind::LanguageModel;
  c.train_file = pre.train_file;
  c.block_size = 16;
  c.init_from = ckpt;
  CHECK_THROWS_WITH(Trainer(c, quiet()),
                    Contains(ckpt + ": it holds a gpt model; --model bert cannot start from it"));
  c.model = Family::GPT;
  c.model_overrides = {{"d_model", "64"}};
  CHECK_THROWS_WITH(Trainer(c, quiet()), Contains("its d_model is 32, and this run asks for 64"));
  c.model_overrides = {{"dropout", "0.2"}};  // not the shape: it applies
  c.block_size = 32;
  CHECK_THROWS_WITH(Trainer(c, quiet()), Contains("its context is 16 tokens"));
  c.block_size = 16;
  c.tokenizer = TokenizerChoice::Word;
  CHECK_THROWS_WITH(Trainer(c, quiet()), Contains("its tokenizer is char"));
  c.tokenizer = TokenizerChoice::Auto;
  {  // a flipped weight
    const fs::path damaged = dir / "damaged.h5";
    fs::copy_file(ckpt, damaged);
    H5File f = H5File::open_rw(damaged.string());
    auto w = f.read<float>("params/token_embedding/weight");
    f.remove("params/token_embedding/weight");
    w.values[5] += 0.25f;
    f.write<float>("params/token_embedding/weight", w.values, w.shape);
    f.close();
    c.init_from = damaged.string();
    CHECK_THROWS_WITH(Trainer(c, quiet()), Contains("damaged.h5: parameter checksum mismatch"));
  }
  c.init_from = (dir / "missing.h5").string();
  CHECK_THROWS_WITH(Trainer(c, quiet()), Contains("--init-from: ") && Contains("missing.h5"));
  c.init_from = ckpt;
  Trainer ok(c, quiet());  // the GPT goes on learning the text from where it was
  CHECK(ok.model().config().dropout == 0.2);
  fs::remove_all(dir);
}
