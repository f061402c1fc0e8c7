// Activation patching (attnlab patch): restoring a clean run's activations
// into a corrupt run restores exactly what they carry, and the command finds
// where a trained T5 carries the month of a date.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "cli_process.h"
#include "model_outputs.h"
#include "study/loaded_run.h"
#include "study/patch.h"

using namespace attnlab;
using model_outputs::ids;
using model_outputs::largest_difference;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

void train(const std::string& model, const fs::path& out, int steps, int heads = 2) {
  const cli_test::Run r = cli_test::run(fmt::format(
      "train --model {} --task dates --train-size 8000 --valid-size 50 --d-model 64 --heads {} "
      "--d-ff 128 --layers 2 --decoder-layers 1 --batch-size 32 --lr 3e-3 --steps {} "
      "--eval-every 0 --quiet --out {}",
      model, heads, steps, out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("patch: restoring every position of the last block restores the clean output exactly") {
  const fs::path dir = cli_test::fresh_dir("patch_exact");
  for (const char* family : {"gpt", "t5"}) {
    INFO(family);
    // One head: patching it is patching its attention's whole output.
    train(family, dir / family, 100, 1);
    LoadedRun run = load_run((dir / family).string());
    const study::PatchSites sites = study::patch_sites(*run.model);
    const std::vector<BlockModule>& blocks = sites.blocks;
    const std::string clean = "Wed 17 Jun 1987", corrupt = "Sun 02 Feb 1951";
    const std::vector<int32_t> forced = run.vocab->encode("19", "test");
    study::Recording recording;
    const Framing::ForcedRun clean_run =
        study::record_run(*run.framing, sites, clean, forced, recording);
    const Framing::ForcedRun corrupt_run = run.framing->run_forced(corrupt, forced);
    REQUIRE(largest_difference(clean_run.next, corrupt_run.next) > 1e-3);
    // Recording alone changes nothing.
    CHECK(largest_difference(run.framing->run_forced(clean, forced).next, clean_run.next) == 0);
    // The last block's output, everywhere: what follows it is the clean run's.
    const size_t last = blocks.size() - 1;
    const Framing::ForcedRun whole = study::patched_run(
        *run.framing, sites, corrupt, forced, recording, {last, BlockSite::Output, -1, -1});
    CHECK(largest_difference(whole.next, clean_run.next) == 0);
    // The first block's input, everywhere: the clean input's embedding, so
    // the clean run (for T5 the first block is the encoder's; the decoder
    // reads the same forced tokens in both runs).
    const Framing::ForcedRun embedded = study::patched_run(
        *run.framing, sites, corrupt, forced, recording, {0, BlockSite::Input, -1, -1});
    CHECK(largest_difference(embedded.next, clean_run.next) == 0);
    // One position that is not the scored one changes the scored output of
    // a causal decoder's last block not at all.
    const Framing::ForcedRun early = study::patched_run(
        *run.framing, sites, corrupt, forced, recording, {last, BlockSite::Output, -1, 0});
    CHECK(largest_difference(early.next, corrupt_run.next) == 0);
    // The one head of the last attention, everywhere, is that attention's
    // sublayer output everywhere.
    const size_t attention = sites.attentions.size() - 1;
    const AttentionModule& m = sites.attentions[attention];
    size_t block = 0;
    while (m.path.rfind(blocks[block].path + "/", 0) != 0) ++block;
    const BlockSite sublayer =
        m.kind == "cross" ? BlockSite::CrossAttention : BlockSite::SelfAttention;
    const Framing::ForcedRun head = study::patched_run(*run.framing, sites, corrupt, forced,
                                                       recording, {attention, sublayer, 0, -1});
    const Framing::ForcedRun whole_sublayer = study::patched_run(
        *run.framing, sites, corrupt, forced, recording, {block, sublayer, -1, -1});
    CHECK(largest_difference(head.next, corrupt_run.next) > 1e-6);
    CHECK(largest_difference(head.next, whole_sublayer.next) < 1e-12);
    // The hooks are gone afterwards.
    CHECK(largest_difference(run.framing->run_forced(corrupt, forced).next, corrupt_run.next) == 0);
  }
  fs::remove_all(dir);
}

TEST_CASE(
    "patch: attnlab patch finds where a T5 carries a date's month, and refuses what it must") {
  const fs::path dir = cli_test::fresh_dir("patch_cli");
  const fs::path t5 = dir / "t5";
  train("t5", t5, 1500);
  // "Jun" and "Jul" differ in their third letter, at input position 9.
  cli_test::Run r = cli_test::run(fmt::format(
      "patch --ckpt {} --clean \"Wed 17 Jun 1987\" --corrupt \"Wed 17 Jul 1987\" --format jsonl",
      t5.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::vector<Json> cells = cli_test::json_lines(r.output);
  REQUIRE(!cells.empty());
  CHECK(cells[0].at("answer") == "6");
  double encoder_at_9 = 0, encoder_elsewhere = 0, cross_last = 0;
  for (const Json& c : cells) {
    const double restored = c.at("restored");
    if (c.at("stack") == "encoder" && c.at("sublayer") == "block output") {
      if (c.at("position") == 9)
        encoder_at_9 = std::max(encoder_at_9, restored);
      else
        encoder_elsewhere = std::max(encoder_elsewhere, restored);
    }
    // The decoder's last position is where the month's digit is written.
    if (c.at("stack") == "decoder" && c.at("sublayer") == "cross-attention" &&
        c.at("position") == 6)
      cross_last = restored;
  }
  CHECK(encoder_at_9 > 0.9);
  CHECK(encoder_elsewhere < 0.5);
  CHECK(cross_last > 0.9);

  r =
      cli_test::run(fmt::format("patch --ckpt {} --clean \"Wed 17 Jun 1987\" --corrupt \"Wed 17 "
                                "Jul 1987\" --svg {}",
                                t5.string(), (dir / "patch.svg").string()));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("the clean run writes '6'") && Contains("decoder cross-attention"));
  CHECK_THAT(cli_test::read_text(dir / "patch.svg"),
             Contains("encoder block output") && Contains("n|l"));

  // --heads: every head of every attention too, one grid per kind.
  r =
      cli_test::run(fmt::format("patch --ckpt {} --clean \"Wed 17 Jun 1987\" --corrupt \"Wed 17 "
                                "Jul 1987\" --heads --format jsonl",
                                t5.string()));
  REQUIRE(r.exit_code == 0);
  std::map<std::string, int> head_cells;
  for (const Json& c : cli_test::json_lines(r.output))
    if (c.contains("head")) ++head_cells[c.at("stack").get<std::string>()];
  // 2 heads x (2 encoder blocks x 16 positions, 1 decoder block x 7 positions)
  CHECK(head_cells["encoder self"] == 2 * 2 * 16);
  CHECK(head_cells["decoder self"] == 2 * 7);
  CHECK(head_cells["cross"] == 2 * 7);

  for (const auto& [args, message] :
       {std::pair{"--clean \"Wed 17 Jun 1987\" --corrupt \"Wed 7 Jun 1987\"",
                  "16 tokens on the input axis and the corrupt input 15"},
        std::pair{"--clean \"Wed 17 Jun 1987\" --corrupt \"Wed 17 Jun 1987\"",
                  "give the same output"},
        std::pair{"--clean a --corrupt b --top 0", "--top"}}) {
    INFO(args);
    r = cli_test::run(fmt::format("patch --ckpt {} {}", t5.string(), args));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(message));
  }
  fs::remove_all(dir);
}
