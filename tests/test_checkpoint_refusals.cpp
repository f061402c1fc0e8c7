// Checkpoints that are damaged, edited or from another run are refused with
// a message naming the file and what is wrong, before anything large is
// allocated; settings stored in a run are named as stored, not as options.
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "checkpoint_fixtures.h"
#include "cli_process.h"
#include "common/errors.h"
#include "common/sanitizers.h"
#include "documented_checksums.h"
#include "io/hdf5.h"
#include "models/config.h"
#include "optim/optim.h"
#include "train/checkpoint.h"

using namespace cli_test;
using Catch::Matchers::Contains;

TEST_CASE("checkpoint: a checkpoint with out-of-bounds sizes is refused before any allocation") {
  const fs::path dir = fresh_dir("hard_sizes");
  const std::string ckpt = tiny_checkpoint(dir);
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"n_layers", "1000000"},
                                                        {"max_len", "1000000000000"},
                                                        {"relative_buckets", "1000000000"},
                                                        {"d_model", "1000000000"}}) {
    const fs::path copy = dir / (key + ".h5");
    fs::copy_file(ckpt, copy);
    {
      attnlab::H5File f = attnlab::H5File::open_rw(copy.string());
      f.set_attribute("model_config", key, value);
      attnlab::documented::seal_info(f);  // as a tool that writes bad sizes would
      f.close();
    }
    INFO(key);
    CHECK_THAT(refusal_of_info(copy.string()),
               Contains(copy.string()) && Contains("'" + key + "'"));
    // The command line says so too, with the usage exit code.
    const Run r = run(fmt::format("eval --ckpt {}", copy.string()));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(copy.string()) && Contains(key));
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: stored training settings are named as stored, not as options") {
  const fs::path dir = fresh_dir("hard_stored");
  const std::string ckpt = tiny_checkpoint(dir);
  {
    attnlab::H5File f = attnlab::H5File::open_rw(ckpt);
    f.set_attribute("train_config", "batch_size", "0");
    attnlab::documented::seal_info(f);
    f.close();
  }
  const std::string why = refusal_of_info(ckpt);
  CHECK_THAT(why, Contains(ckpt) && Contains("stored train_config 'batch_size'"));
  CHECK_THAT(why, !Contains("--batch-size"));
  fs::remove_all(dir);
}

TEST_CASE(
    "checkpoint: a stored vocabulary with a repeated or malformed token is refused naming "
    "the file") {
  const fs::path dir = fresh_dir("hard_vocab");
  const std::string ckpt = tiny_checkpoint(dir);
  const std::vector<std::string> stored = attnlab::read_checkpoint_info(ckpt).vocab_tokens;
  REQUIRE(stored.size() > 8);
  // Invalid UTF-8 raises the decoder's own kind of error, which must still
  // come out naming the file.
  for (const std::string& bad : {stored[6], std::string("\xf8")}) {
    std::vector<std::string> tokens = stored;
    tokens[7] = bad;
    {
      attnlab::H5File f = attnlab::H5File::open_rw(ckpt);
      f.remove("data/vocab");
      attnlab::write_string_list(f, "data/vocab", tokens);
      attnlab::documented::seal_info(f);
      f.close();
    }
    CHECK_THAT(refusal_of_info(ckpt), Contains(ckpt) && Contains("data/vocab"));
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: --resume refuses settings it would drop, and says what it uses") {
  const fs::path dir = fresh_dir("hard_resume");
  const std::string ckpt = tiny_checkpoint(dir);
  const std::string out = (dir / "run").string();
  // Each refusal names the option as typed and the stored value it would change.
  const std::pair<std::string, std::string> cases[] = {
      {"--d-model 64", "--d-model 64 would change d_model = 32 there"},
      {"--set norm_eps=inf", "--set norm_eps=inf would change norm_eps = 1e-05 there"},
      {"--set dropout=0.5", "--set dropout=0.5 would change dropout = 0 there"},
      {"--d-model 64 --set d_model=48", "--set d_model=48 would change d_model = 32 there"},
      {"--lr 0.5", "--lr 0.5 would change lr = 0.001 there"},
      {"--model bert", "--model bert would change model = gpt there"},
      {"--batch-size 3", "--batch-size 3 would change batch_size = 16 there"},
      {"--stop-at -1", "--stop-at -1: must be >= 0"},
      {"--steps 2", "--steps 2: " + ckpt + " is already at step 3"},
      {"--steps 0", "--steps 0: must be positive"},
      {"--stop-at 3", "--stop-at 3: " + ckpt + " is already at step 3"}};
  for (const auto& [option, message] : cases) {
    const Run r = run(fmt::format("train --resume --out {} {}", out, option));
    INFO(option << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(message));
    CHECK(attnlab::read_checkpoint_info(ckpt).state.step == 3);  // untouched
  }
  // The stored value given again is no change; a longer run is what resume is for.
  const std::string lr =
      attnlab::train_config_fields().to_map(attnlab::read_checkpoint_info(ckpt).train).at("lr");
  const Run r = run(fmt::format("train --resume --out {} --lr {} --steps 5", out, lr));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("resuming at step 3 of 5 with the run's stored settings"));
  CHECK(attnlab::read_checkpoint_info(ckpt).state.step == 5);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: optimizer state is checksummed and checked, a missing checksum is refused") {
  const fs::path dir = fresh_dir("hard_optim");
  const std::string ckpt = tiny_checkpoint(dir);
  const std::string out = (dir / "run").string();
  attnlab::CheckpointInfo info = attnlab::read_checkpoint_info(ckpt);
  const auto model = attnlab::make_model(info.model);
  attnlab::OptimizerConfig oc;
  oc.kind = info.train.optimizer;
  const auto refusal = [&](const fs::path& file) -> std::string {
    attnlab::Optimizer optimizer(model->named_parameters(), oc);
    try {
      attnlab::load_parameters(file.string(), *model);
      attnlab::load_optimizer_state(file.string(), optimizer);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(loaded)";
  };
  REQUIRE(refusal(ckpt) == "(loaded)");
  std::string some_moment;
  {
    attnlab::H5File f = attnlab::H5File::open_read(ckpt);
    for (const std::string& path : f.list_datasets("optimizer"))
      if (path.rfind("optimizer/exp_avg_sq/", 0) == 0) some_moment = path;
  }
  REQUIRE(!some_moment.empty());
  // Rewrites one value of `dataset` in a copy of the checkpoint.
  const auto edited = [&](const std::string& name, const std::string& dataset, float value,
                          bool drop_optimizer_checksum = false) {
    const fs::path copy = dir / (name + ".h5");
    fs::copy_file(ckpt, copy, fs::copy_options::overwrite_existing);
    attnlab::H5File f = attnlab::H5File::open_rw(copy.string());
    if (!dataset.empty()) {
      auto data = f.read<float>(dataset);
      data.values.at(0) = value;
      f.remove(dataset);
      f.write<float>(dataset, data.values, data.shape);
    }
    if (drop_optimizer_checksum) f.remove_attribute("/", "optimizer_checksum");
    f.close();
    return copy;
  };
  CHECK_THAT(refusal(edited("nan", some_moment, std::nanf(""))),
             Contains("nan.h5") && Contains(some_moment) && Contains("non-finite"));
  CHECK_THAT(refusal(edited("negative", some_moment, -1.0f)),
             Contains(some_moment) && Contains("negative second moment"));
  CHECK_THAT(refusal(edited("changed", some_moment, 0.25f)),
             Contains("changed.h5") && Contains("optimizer checksum mismatch"));
  CHECK_THAT(refusal(edited("no_optimizer_checksum", "", 0, true)),
             Contains("has no optimizer checksum"));
  // A format version damaged to an older one ('3' -> '2' is one flipped bit)
  // turns no checksum off: the parameters' one, made for the real format, notices.
  {
    const fs::path copy = edited("format_2", some_moment, 0.25f);
    attnlab::H5File f = attnlab::H5File::open_rw(copy.string());
    f.set_attribute("/", "format_version", "2");
    f.close();
    CHECK_THAT(refusal(copy), Contains("format_2.h5: the parameters were saved as checkpoint "
                                       "format 5 but format_version says 2"));
  }
  // A parameter checksum removed together with a changed weight: refused, not trusted.
  {
    const fs::path copy = edited("no_checksum", "params/token_embedding/weight", 7.0f);
    attnlab::H5File f = attnlab::H5File::open_rw(copy.string());
    f.remove_attribute("/", "checksum");
    f.close();
    CHECK_THAT(refusal(copy), Contains("has no parameter checksum"));
    // And `train --resume` never runs on it.
    fs::copy_file(copy, ckpt, fs::copy_options::overwrite_existing);
    const Run r = run(fmt::format("train --resume --out {} --steps 5 --quiet", out));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("has no parameter checksum"));
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a changed setting, vocabulary or training state is refused, not used") {
  // HDF5 checksums a file's structure but not raw data, nor the global heap
  // where string values live: before format 4, one flipped bit changed a
  // stored learning rate from 0.001 to 0.003 and `train --resume` used it.
  const fs::path dir = fresh_dir("hard_info");
  const std::string ckpt = tiny_checkpoint(dir);
  REQUIRE(refusal_of_info(ckpt) == "(loaded)");
  const auto copy_of = [&](const std::string& name) {
    const fs::path copy = dir / (name + ".h5");
    fs::copy_file(ckpt, copy, fs::copy_options::overwrite_existing);
    return copy.string();
  };
  const std::string mismatch = "settings, vocabulary and state checksum mismatch";

  // One bit of the stored learning rate's text, flipped on disk.
  const std::string lr = [&] {
    attnlab::H5File f = attnlab::H5File::open_read(ckpt);
    return f.get_attribute("train_config", "lr");
  }();
  const std::string flipped = copy_of("flipped_lr");
  {
    std::fstream file(flipped, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    std::string stored(8, '\0');  // a heap object: its size in 8 bytes, then the text
    stored[0] = char(lr.size());
    stored += lr;
    const size_t at = bytes.find(stored);
    REQUIRE(at != std::string::npos);
    const size_t last = at + stored.size() - 1;
    file.seekp(std::streamoff(last));
    file.put(char(bytes[last] ^ 0x02));
  }
  {
    attnlab::H5File f = attnlab::H5File::open_read(flipped);  // HDF5 sees nothing wrong
    CHECK(f.get_attribute("train_config", "lr") != lr);
  }
  CHECK_THAT(refusal_of_info(flipped), Contains(flipped + ": " + mismatch));
  {
    // In the run directory, `train --resume` refuses it, and leaves it as it was.
    const std::string pristine = copy_of("pristine");
    fs::copy_file(flipped, ckpt, fs::copy_options::overwrite_existing);
    const Run r = run(fmt::format("train --resume --out {} --steps 5 --quiet",
                                  fs::path(ckpt).parent_path().string()));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(mismatch));
    const auto bytes_of = [](const std::string& path) {
      std::ifstream in(path, std::ios::binary);
      return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    };
    CHECK(bytes_of(ckpt) == bytes_of(flipped));
    fs::copy_file(pristine, ckpt, fs::copy_options::overwrite_existing);
  }
  REQUIRE(refusal_of_info(ckpt) == "(loaded)");

  // Values rewritten through HDF5: the step, a vocabulary byte.
  const auto rewritten = [&](const std::string& name, const std::string& dataset) {
    const std::string copy = copy_of(name);
    attnlab::H5File f = attnlab::H5File::open_rw(copy);
    if (dataset == "state/step") {
      f.remove(dataset);
      f.write<int64_t>(dataset, {1000}, {});
    } else {
      auto bytes = f.read<uint8_t>(dataset);
      bytes.values.at(0) ^= 0x01;
      f.remove(dataset);
      f.write<uint8_t>(dataset, bytes.values, bytes.shape);
    }
    f.close();
    return copy;
  };
  for (const std::string dataset : {"state/step", "data/vocab/bytes"}) {
    INFO(dataset);
    const std::string copy = rewritten(dataset == "state/step" ? "step" : "vocab", dataset);
    CHECK_THAT(refusal_of_info(copy), Contains(copy + ": " + mismatch));
  }

  // The checksum removed, or the version damaged to one without it
  // ('4' -> '3' is not one bit, but '3' -> '2' is): still refused.
  const std::string removed = copy_of("no_info_checksum");
  {
    attnlab::H5File f = attnlab::H5File::open_rw(removed);
    f.remove_attribute("/", "info_checksum");
    f.close();
  }
  CHECK_THAT(refusal_of_info(removed),
             Contains(removed + ": has no info checksum (attribute 'info_checksum' on '/')"));
  const std::string older = copy_of("format_3");
  {
    attnlab::H5File f = attnlab::H5File::open_rw(older);
    f.set_attribute("/", "format_version", "3");
    f.close();
  }
  CHECK_THAT(refusal_of_info(older), Contains(older + ": " + mismatch));
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a parameter stored as another type is named as such, not as corruption") {
  const fs::path dir = fresh_dir("hard_types");
  const std::string ckpt = tiny_checkpoint(dir);
  const auto model = attnlab::make_model(attnlab::read_checkpoint_info(ckpt).model);
  const std::string key = "params/token_embedding/weight";
  std::vector<hsize_t> dims;
  {
    attnlab::H5File f = attnlab::H5File::open_rw(ckpt);
    auto data = f.read<float>(key);
    for (const auto d : data.shape) dims.push_back(hsize_t(d));
    std::vector<int32_t> ints(data.values.size(), 0);
    f.remove(key);
    f.write<int32_t>(key, ints, data.shape);
    f.close();
  }
  try {
    attnlab::load_parameters(ckpt, *model);
    FAIL("an int32 parameter loaded");
  } catch (const std::exception& e) {
    CHECK_THAT(e.what(),
               Contains(key) && Contains("int32") && Contains("float32") && !Contains("checksum"));
  }
  {
    // IEEE half precision, made with HDF5's own API (attnlab has no float16):
    // 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
    const hid_t half = H5Tcopy(H5T_IEEE_F32LE);
    REQUIRE(H5Tset_fields(half, 15, 10, 5, 0, 10) >= 0);
    REQUIRE(H5Tset_precision(half, 16) >= 0);
    REQUIRE(H5Tset_size(half, 2) >= 0);
    REQUIRE(H5Tset_ebias(half, 15) >= 0);
    const hid_t file = H5Fopen(ckpt.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    REQUIRE(H5Ldelete(file, key.c_str(), H5P_DEFAULT) >= 0);
    const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t set =
        H5Dcreate2(file, key.c_str(), half, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(set >= 0);
    const std::vector<uint16_t> zeros(dims.at(0) * dims.at(1), 0);
    REQUIRE(H5Dwrite(set, half, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()) >= 0);
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(file);
    H5Tclose(half);
  }
  try {
    attnlab::load_parameters(ckpt, *model);
    FAIL("a float16 parameter loaded");
  } catch (const std::exception& e) {
    CHECK_THAT(e.what(), Contains(key) && Contains("float16") && Contains("float32") &&
                             !Contains("checksum"));
  }
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a run on a TSV stores its absolute path, eval works from elsewhere") {
  const fs::path dir = fresh_dir("hard_abs");
  fs::create_directories(dir / "tsv");
  {
    std::ofstream tsv(dir / "tsv" / "tr.tsv");
    for (int i = 0; i < 60; ++i) tsv << (i % 2 ? "pos\tgood " : "neg\tbad ") << i << "\n";
  }
  // A relative --train-file, from the run's own working directory.
  const std::string train = fmt::format(
      "cd {} && OMP_NUM_THREADS=1 {} train --model bert --train-file tsv/tr.tsv --task-kind "
      "classification --steps 2 --out run {} > log 2>&1",
      dir.string(), ATTNLAB_BINARY, kTiny);
  REQUIRE(std::system(train.c_str()) == 0);
  const std::string ckpt = (dir / "run" / "checkpoint.h5").string();
  const std::string stored = attnlab::read_checkpoint_info(ckpt).train.train_file;
  CHECK(fs::path(stored).is_absolute());
  CHECK(fs::path(stored) == dir / "tsv" / "tr.tsv");
  Run e = run(fmt::format("eval --ckpt {}", ckpt));  // from the test's directory
  CHECK(e.exit_code == 0);
  fs::remove(dir / "tsv" / "tr.tsv");
  e = run(fmt::format("eval --ckpt {}", ckpt));
  CHECK(e.exit_code == 2);
  CHECK_THAT(e.output, Contains("--valid-file"));
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a checkpoint copied from another run is not resumed or evaluated with it") {
  const fs::path dir = fresh_dir("mixed_runs");
  const auto train = [&](const std::string& model, const fs::path& out) {
    REQUIRE(run(fmt::format("train --model {} --task reverse --steps 4 --stop-at 2 --eval-every 1 "
                            "--out {} {}",
                            model, out.string(), kTiny))
                .exit_code == 0);
  };
  train("gpt", dir / "gpt");
  train("t5", dir / "t5");
  REQUIRE(fs::exists(dir / "gpt" / "best.h5"));
  fs::copy_file(dir / "t5" / "checkpoint.h5", dir / "gpt" / "checkpoint.h5",
                fs::copy_options::overwrite_existing);
  const std::string log_before = read_text(dir / "gpt" / "metrics.jsonl");
  Run r = run(fmt::format("train --resume --out {} --quiet", (dir / "gpt").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("are not of one run") && Contains("family") &&
                           Contains((dir / "gpt" / "best.h5").string()));
  CHECK(read_text(dir / "gpt" / "metrics.jsonl") == log_before);  // nothing appended
  r = run(fmt::format("eval --ckpt {}", (dir / "gpt").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("are not of one run"));
  // The run's own pair still resumes.
  r = run(fmt::format("train --resume --out {} --quiet", (dir / "t5").string()));
  CHECK(r.exit_code == 0);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: two runs with identical settings are told apart by their run ids") {
  const fs::path dir = fresh_dir("twin_runs");
  const auto train = [&](const fs::path& out) {
    REQUIRE(run(fmt::format("train --model gpt --task reverse --steps 4 --stop-at 2 --eval-every 1 "
                            "--out {} {}",
                            out.string(), kTiny))
                .exit_code == 0);
  };
  train(dir / "a");
  train(dir / "b");
  const auto a = attnlab::read_checkpoint_info((dir / "a" / "checkpoint.h5").string());
  const auto b = attnlab::read_checkpoint_info((dir / "b" / "checkpoint.h5").string());
  REQUIRE(attnlab::is_run_id(a.run_id));
  CHECK(a.run_id != b.run_id);
  CHECK(attnlab::read_checkpoint_info((dir / "a" / "best.h5").string()).run_id == a.run_id);
  // The log's first line names the run.
  const std::string log_a = read_text(dir / "a" / "metrics.jsonl");
  CHECK_THAT(log_a.substr(0, log_a.find('\n')),
             Contains("\"event\": \"start\"") && Contains("\"run_id\": \"" + a.run_id + "\""));

  // b's checkpoint in a's directory: refused by best.h5 ...
  const fs::path ckpt = dir / "a" / "checkpoint.h5";
  fs::copy_file(dir / "a" / "checkpoint.h5", dir / "a_checkpoint.h5");
  fs::copy_file(dir / "b" / "checkpoint.h5", ckpt, fs::copy_options::overwrite_existing);
  Run r = run(fmt::format("train --resume --out {} --quiet", (dir / "a").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("two runs with the same settings") && Contains(a.run_id) &&
                           Contains(b.run_id));
  r = run(fmt::format("eval --ckpt {}", (dir / "a").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("two runs with the same settings"));
  // ... and, without best.h5, by the log, which stays as it was.
  fs::rename(dir / "a" / "best.h5", dir / "a_best.h5");
  r = run(fmt::format("train --resume --out {} --quiet", (dir / "a").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains((dir / "a" / "metrics.jsonl").string() +
                                " line 1 is the log of run " + a.run_id) &&
                           Contains(ckpt.string() + " is of run " + b.run_id));
  CHECK(read_text(dir / "a" / "metrics.jsonl") == log_a);
  // The run's own files resume, and the resume line keeps its id.
  fs::copy_file(dir / "a_checkpoint.h5", ckpt, fs::copy_options::overwrite_existing);
  fs::rename(dir / "a_best.h5", dir / "a" / "best.h5");
  r = run(fmt::format("train --resume --out {} --quiet", (dir / "a").string()));
  CHECK(r.exit_code == 0);
  CHECK_THAT(read_text(dir / "a" / "metrics.jsonl"),
             Contains("\"event\": \"resume\"") && Contains("\"run_id\": \"" + a.run_id + "\""));
  CHECK(attnlab::read_checkpoint_info(ckpt.string()).run_id == a.run_id);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: a file edited to an older format to escape its checks is refused") {
  const fs::path dir = fresh_dir("downgrade");
  const fs::path out = dir / "run";
  REQUIRE(run(fmt::format("train --model gpt --task reverse --steps 4 --stop-at 2 --out {} {}",
                          out.string(), kTiny))
              .exit_code == 0);
  const fs::path ckpt = out / "checkpoint.h5";
  const fs::path original = dir / "original.h5";
  fs::copy_file(ckpt, original);
  const auto edit = [&](const char* version, bool drop_info_checksum) {
    fs::copy_file(original, ckpt, fs::copy_options::overwrite_existing);
    attnlab::H5File f = attnlab::H5File::open_rw(ckpt.string());
    f.set_attribute("train_config", "lr", "0.5");
    f.set_attribute("/", "format_version", version);
    if (drop_info_checksum) f.remove_attribute("/", "info_checksum");
    f.remove_attribute("/", "run_id");  // format 4 and before had none
    f.close();
  };
  // Format 3 has no info checksum: the edited rate passes that format's
  // checks, but the parameters' checksum was made for format 5.
  edit("3", true);
  CHECK(attnlab::read_checkpoint_info(ckpt.string()).train.lr == 0.5);
  Run r = run(fmt::format("train --resume --out {} --quiet", out.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains(ckpt.string() + ": the parameters were saved as checkpoint format "
                                                "5 but format_version says 3"));
  r = run(fmt::format("eval --ckpt {}", ckpt.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("edited to an older format"));
  // Format 4 keeps the info checksum, which covers format_version itself.
  edit("4", false);
  r = run(fmt::format("train --resume --out {} --quiet", out.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("settings, vocabulary and state checksum mismatch"));
  fs::remove_all(dir);
}
