// Bad input of every kind gets a clear refusal that says what is wrong and
// where, before anything large is allocated. One case per class of bad input
// that a probe of the command line found mishandled.
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

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

namespace {

// A trained tiny GPT run in `dir`/run; returns its checkpoint path.
std::string tiny_checkpoint(const fs::path& dir, const std::string& extra = "") {
  const fs::path out = dir / "run";
  const Run r =
      run(fmt::format("train --model gpt --task reverse --steps 3 --save-every 0 "
                      "--out {} {} {}",
                      out.string(), kTiny, extra));
  REQUIRE(r.exit_code == 0);
  return (out / "checkpoint.h5").string();
}

std::string refusal_of_info(const std::string& path) {
  try {
    attnlab::read_checkpoint_info(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("hardening: model sizes are bounded per field and in total, naming the field") {
  using attnlab::ModelConfig;
  const auto refusal = [](const char* key, const char* value) {
    ModelConfig c = attnlab::preset(attnlab::Family::T5);
    attnlab::set_config_field(c, key, value);
    try {
      attnlab::validate(c);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  CHECK_THAT(refusal("n_layers", "1000000"), Contains("'n_layers'") && Contains("512"));
  CHECK_THAT(refusal("max_len", "100000000"), Contains("'max_len'"));
  CHECK_THAT(refusal("relative_buckets", "1000000000"), Contains("'relative_buckets'"));
  CHECK_THAT(refusal("d_model", "1000000000"), Contains("'d_model'"));
  CHECK_THAT(refusal("norm_eps", "inf"), Contains("'norm_eps'") && Contains("finite"));
  // Every field within its bound, but together far too large.
  ModelConfig big = attnlab::preset(attnlab::Family::GPT);
  big.d_model = 16384;
  big.n_heads = 16;
  big.d_ff = 65536;
  big.n_layers = 64;
  CHECK_THROWS_WITH(attnlab::validate(big),
                    Contains("would have") && Contains("parameters") && Contains("more than"));
  // The count is exact: the same as a built model's.
  ModelConfig small = attnlab::preset(attnlab::Family::T5);
  small.d_model = 32;
  small.n_heads = 2;
  small.d_ff = 64;
  CHECK(attnlab::parameter_count(small) == attnlab::make_model(small)->parameter_count());
}

TEST_CASE("hardening: a checkpoint with out-of-bounds sizes is refused before any allocation") {
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

TEST_CASE("hardening: stored training settings are named as stored, not as options") {
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
    "hardening: a stored vocabulary with a repeated or malformed token is refused naming "
    "the file") {
  const fs::path dir = fresh_dir("hard_vocab");
  const std::string ckpt = tiny_checkpoint(dir);
  const std::vector<std::string> stored = attnlab::read_checkpoint_info(ckpt).vocab_tokens;
  REQUIRE(stored.size() > 8);
  // The invalid UTF-8 was found by fuzz/fuzz_checkpoint: the decoder's error
  // was not the kind the loader wrapped with the file name.
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

TEST_CASE("hardening: --threads beyond the machine is refused") {
  const Run r = run("describe --model gpt --threads 100000");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--threads 100000") && Contains("cores"));
}

TEST_CASE("hardening: interval options name themselves") {
  const fs::path dir = fresh_dir("hard_interval");
  for (const char* option : {"--save-every -1", "--log-every 0", "--eval-examples -1"}) {
    const Run r = run(
        fmt::format("train --task reverse --steps 1 --out {} {}", (dir / "run").string(), option));
    INFO(option);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(std::string(option).substr(0, std::string(option).find(' '))));
  }
  fs::remove_all(dir);
}

TEST_CASE("hardening: --set cannot set what the run sets itself, INI files cannot set --config") {
  for (const char* set : {"vocab_size=5", "num_classes=0", "seed=3"}) {
    const Run r =
        run(fmt::format("train --task reverse --steps 1 --out {} --set {}",
                        (fs::temp_directory_path() / "attnlab_never_made").string(), set));
    INFO(set);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("is set"));
  }
  const fs::path dir = fresh_dir("hard_ini");
  for (const char* line : {"config = other.ini", "help = 1"}) {
    std::ofstream(dir / "run.ini") << "task = reverse\n" << line << "\n";
    const Run r = run(fmt::format("train --config {} --out {}", (dir / "run.ini").string(),
                                  (dir / "run").string()));
    INFO(line);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("command-line option"));
  }
  fs::remove_all(dir);
}

TEST_CASE("hardening: --resume refuses settings it would drop, and says what it uses") {
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

TEST_CASE("hardening: optimizer state is checksummed and checked, a missing checksum is refused") {
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
  // does not turn the optimizer checksum off (found by fuzz/fuzz_checkpoint).
  {
    const fs::path copy = edited("format_2", some_moment, 0.25f);
    attnlab::H5File f = attnlab::H5File::open_rw(copy.string());
    f.set_attribute("/", "format_version", "2");
    f.close();
    CHECK_THAT(refusal(copy), Contains("format_2.h5: optimizer checksum mismatch"));
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

TEST_CASE("hardening: a changed setting, vocabulary or training state is refused, not used") {
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
  // ('4' -> '3' is not one bit, but '3' -> '2' was): still refused.
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

TEST_CASE("hardening: a parameter stored as another type is named as such, not as corruption") {
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

namespace {

// Runs `attnlab <args>` in the background and waits at most `seconds` for it
// to end; a run that hangs is killed and reported as -1.
Run run_bounded(const std::string& args, const fs::path& log, double seconds = 30) {
  const pid_t child = spawn(args, log);
  int status = 0;
  const bool ended =
      wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; }, seconds);
  if (!ended) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return {-1, read_text(log)};
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

}  // namespace

TEST_CASE("hardening: FIFOs, devices and directories are refused at once, not read") {
  const fs::path dir = fresh_dir("hard_fifo");
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("train --config {}", fifo.string()), "not a regular file"},
      {fmt::format("train --train-file {} --task-kind translation", fifo.string()),
       "not a regular file"},
      {fmt::format("predict --ckpt {} abc", fifo.string()), "not a regular file"},
      {"train --config /dev/zero", "not a regular file"},
      {"train --train-file /dev/zero --task-kind translation", "not a regular file"},
      {fmt::format("train --train-file {} --task-kind translation", dir.string()),
       "is a directory"},
  };
  for (const auto& [args, why] : cases) {
    const bool trains = args.rfind("train ", 0) == 0;
    const Run r =
        run_bounded(trains ? args + " --out " + (dir / "run").string() : args, dir / "log");
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 2);  // ended by itself, with the usage exit code
    CHECK_THAT(r.output, Contains(why));
  }
  fs::remove_all(dir);
}

TEST_CASE("hardening: data and config files above their size limit are refused unread") {
  const fs::path dir = fresh_dir("hard_big");
  const fs::path big = dir / "big.tsv";
  { std::ofstream(big) << "a\tb\n"; }
  fs::resize_file(big, (std::uintmax_t(256) << 20) + 1);  // sparse: no disk used
  Run r = run(fmt::format("train --train-file {} --task-kind translation --out {}", big.string(),
                          (dir / "run").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains(big.string()) && Contains("bytes is more than"));
  const fs::path ini = dir / "big.ini";
  { std::ofstream(ini) << "task = reverse\n"; }
  fs::resize_file(ini, std::uintmax_t(2) << 20);
  r = run(fmt::format("train --config {} --out {}", ini.string(), (dir / "run").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--config " + ini.string()) && Contains("bytes is more than"));
  fs::remove_all(dir);
}

TEST_CASE("hardening: predict keeps one row per input line, refuses TABs and endless lines") {
  const fs::path dir = fresh_dir("hard_predict");
  const std::string ckpt = tiny_checkpoint(dir);
  { std::ofstream(dir / "in.txt") << "abc\n\ncba\r\n"; }
  Run r = run(fmt::format("predict --ckpt {} < {}", ckpt, (dir / "in.txt").string()));
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> rows;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("attnlab predict:", 0) != 0) rows.push_back(line);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].rfind("abc\t", 0) == 0);
  CHECK(rows[1].rfind("\t", 0) == 0);  // the empty input, answered in its place
  CHECK(rows[2].rfind("cba\t", 0) == 0);
  r = run(fmt::format("predict --ckpt {} \"$(printf 'a\\tb')\"", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("input 1 contains a TAB") && Contains("--format jsonl"));
  r = run_bounded(fmt::format("predict --ckpt {} < /dev/zero", ckpt), dir / "log");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("stdin line 1: longer than"));
  fs::remove_all(dir);
}

TEST_CASE("hardening: T5 predict bounds the input by max_len and the output by --max-new") {
  const fs::path dir = fresh_dir("hard_t5");
  const fs::path out = dir / "run";
  // A long max_len and one step: the model has not learned to stop.
  REQUIRE(run(fmt::format("train --model t5 --task reverse --steps 1 --save-every 0 --out {} {} "
                          "--max-len 4096",
                          out.string(), kTiny))
              .exit_code == 0);
  const std::string ckpt = (out / "checkpoint.h5").string();
  Run r = run(fmt::format("predict --ckpt {} {}", ckpt, std::string(5000, 'a')));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("more than the model's max_len 4096"));
  // How many tokens one jsonl prediction holds.
  const auto tokens_in = [](const std::string& jsonl) {
    return first_json(jsonl).at("token_ids").size();
  };
  r = run(fmt::format("predict --ckpt {} --format jsonl --max-new 5 abc", ckpt));
  REQUIRE(r.exit_code == 0);
  CHECK(tokens_in(r.output) == 5);
  CHECK_THAT(r.output, Contains("\"stopped_by\": \"max_new\""));
  // Without --max-new, 256 tokens, far below max_len.
  r = run(fmt::format("predict --ckpt {} --format jsonl abc", ckpt));
  REQUIRE(r.exit_code == 0);
  CHECK(tokens_in(r.output) == 256);
  CHECK_THAT(r.output, Contains("\"stopped_by\": \"max_new\""));
  r = run(fmt::format("predict --ckpt {} --max-new 0 abc", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--max-new 0"));
  // A max_len of 24 leaves the decoder room for <bos> and 23 tokens.
  const fs::path short_run = dir / "short";
  REQUIRE(run(fmt::format("train --model t5 --task reverse --steps 1 --save-every 0 --out {} {} "
                          "--max-len 24",
                          short_run.string(), kTiny))
              .exit_code == 0);
  r = run(
      fmt::format("predict --ckpt {} --format jsonl abc", (short_run / "checkpoint.h5").string()));
  REQUIRE(r.exit_code == 0);
  CHECK(tokens_in(r.output) == 23);
  CHECK_THAT(r.output, Contains("\"stopped_by\": \"max_len\""));
  fs::remove_all(dir);
}

TEST_CASE("hardening: bad options and bad input files exit 2, as cli_common.h documents") {
  const fs::path dir = fresh_dir("hard_exit");
  { std::ofstream(dir / "bad.tsv") << "pos\tfine\nthis line has no tab\n"; }
  { std::ofstream(dir / "not.h5") << "not an HDF5 file\n"; }
  for (const std::string& args :
       {std::string("train --task reverse --d-model 0"),
        std::string("train --task reverse --heads 3"),
        std::string("train --task reverse --dropout 1.0"),
        std::string("train --model bert --task brackets --heads 128 --steps 1 --quiet"),
        fmt::format("train --model bert --train-file {} --task-kind classification --quiet",
                    (dir / "bad.tsv").string()),
        fmt::format("eval --ckpt {}", (dir / "not.h5").string())}) {
    const bool trains = args.rfind("train ", 0) == 0;
    const Run r = run(trains ? args + " --out " + (dir / "run").string() : args);
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 2);
  }
  fs::remove_all(dir);
}

TEST_CASE("hardening: a run on a TSV stores its absolute path, eval works from elsewhere") {
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

TEST_CASE("hardening: an over-long TSV example is named by file:line, label lists are cut") {
  const fs::path dir = fresh_dir("hard_line");
  {
    std::ofstream tsv(dir / "long.tsv");
    for (int i = 0; i < 40; ++i) tsv << "abc\tcba\n";
    tsv << std::string(300, 'a') << "\tb\n";  // line 41, in the held-out tenth
    for (int i = 0; i < 2; ++i) tsv << "abc\tcba\n";
  }
  Run r =
      run(fmt::format("train --model gpt --train-file {} --task-kind translation --steps 1 "
                      "--max-len 64 --out {} {}",
                      (dir / "long.tsv").string(), (dir / "run").string(), kTiny));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("long.tsv:41: the held-out example needs"));
  {
    std::ofstream tsv(dir / "labels.tsv");
    for (int i = 0; i < 1000; ++i) tsv << "L" << i << "\ttext " << i << "\n";
    std::ofstream valid(dir / "valid.tsv");
    valid << "unknown\tsome text\n";
  }
  r = run(fmt::format(
      "train --model bert --train-file {} --valid-file {} --task-kind "
      "classification --steps 1 --out {} {}",
      (dir / "labels.tsv").string(), (dir / "valid.tsv").string(), (dir / "run").string(), kTiny));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("valid.tsv:1") && Contains("and 980 more"));
  CHECK(r.output.size() < 1000);
  fs::remove_all(dir);
}

TEST_CASE("hardening: an over-long line is refused before it costs memory") {
#ifdef ATTNLAB_SHADOW_MEMORY
  WARN("skipped: an address-space limit cannot apply under AddressSanitizer or ThreadSanitizer");
#else
  // 48 MiB in one field. Its characters as strings would take 1.5 GB, as
  // token ids 192 MB; counted, they cost nothing. The address space is
  // capped well below the first.
  const fs::path dir = fresh_dir("hard_long_line");
  {
    std::ofstream tsv(dir / "long.tsv");
    tsv << std::string(size_t(48) << 20, 'a') << "\tb\n";
    for (int i = 0; i < 20; ++i) tsv << "abc\tcba\n";
  }
  const Run r =
      run_after(fmt::format("ulimit -v {}", 640 << 10),
                fmt::format("train --model gpt --train-file {} --task-kind translation --steps 1 "
                            "--max-len 64 --out {} {}",
                            (dir / "long.tsv").string(), (dir / "run").string(), kTiny));
  CHECK(r.exit_code == 2);
  // GPT reads BOS source SEP target EOS: 48 MiB + 1 + 3 positions.
  CHECK_THAT(r.output, Contains("long.tsv:1: the training example needs 50331652 positions"));
  fs::remove_all(dir);
#endif
}

TEST_CASE(
    "hardening: vocabulary and labels from the data are bounded, the vocabulary as it is counted") {
  const fs::path dir = fresh_dir("hard_data_sizes");
  {
    std::ofstream valid(dir / "valid.tsv");
    valid << "L0\tw0\n";
    // 1000 lines of 2100 new words each: 2,100,000 words, more than the
    // 2^21 - 6 = 2,097,146 a vocabulary holds besides its special tokens.
    std::ofstream words(dir / "words.tsv");
    for (int line = 0, word = 0; line < 1000; ++line) {
      for (int i = 0; i < 2100; ++i) words << (i ? " " : "") << 'w' << word++;
      words << "\tx\n";
    }
    // 2^20 + 1 labels, one more than a classifier may have.
    std::ofstream labels(dir / "labels.tsv");
    for (int i = 0; i < (1 << 20) + 1; ++i) labels << 'L' << i << "\tt\n";
  }
  const auto train = [&](const char* model, const char* file, const char* kind) {
    return run(fmt::format(
        "train --model {} --train-file {} --valid-file {} --task-kind {} --tokenizer word "
        "--steps 1 --out {} {}",
        model, (dir / file).string(), (dir / "valid.tsv").string(), kind, (dir / "run").string(),
        kTiny));
  };
  Run r = train("gpt", "words.tsv", "translation");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("words.tsv: more than 2097146 distinct word tokens; a vocabulary "
                                "holds at most 2097152, with its 6 special tokens"));
  r = train("bert", "labels.tsv", "classification");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output,
             Contains("labels.tsv: 1048577 distinct labels, more than the 1048576 a classifier"));
  fs::remove_all(dir);
}

TEST_CASE("hardening: the structure walk of a hostile checkpoint stays within its memory bound") {
#ifdef ATTNLAB_SHADOW_MEMORY
  WARN(
      "skipped: under AddressSanitizer the walker's bound is ASan's hard_rss_limit_mb, under "
      "ThreadSanitizer there is none");
#else
  // tests/data/walker-memory.h5 was damaged by fuzz_checkpoint_bytes (the
  // input fuzz/corpus/checkpoint_bytes/regress-walker-memory). Walking it
  // makes HDF5 1.10 allocate without end: 3.5 GB in 14 s when the walker's
  // address space is not bounded. Bounded to 1 GiB plus the file's size,
  // its allocations fail and the walk ends.
  const fs::path dir = fresh_dir("hard_walker_memory");
  const pid_t child = spawn(
      fmt::format("predict --ckpt {} abc", ATTNLAB_TEST_DATA_DIR "/walker-memory.h5"), dir / "log");
  int status = 0;
  rusage usage{};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);  // refused as damaged
  CHECK_THAT(read_text(dir / "log"), Contains("is damaged"));
  // ru_maxrss (KiB) is the largest of attnlab and the walker it waited for.
  CHECK(usage.ru_maxrss < (1 << 20));
  fs::remove_all(dir);
#endif
}

TEST_CASE("hardening: output that cannot be written is a failure, not a silent success") {
  const fs::path dir = fresh_dir("hard_full");
  for (const char* command : {"tasks", "describe --model gpt"}) {
    const std::string cmd =
        fmt::format("{} {} > /dev/full 2> {}", ATTNLAB_BINARY, command, (dir / "err").string());
    const int status = std::system(cmd.c_str());
    INFO(command);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK_THAT(read_text(dir / "err"), Contains("cannot write the standard output"));
  }
  // A metrics log that cannot be written stops the run, naming it; no metric is lost silently.
  const fs::path out = dir / "run";
  fs::create_directories(out);
  fs::create_symlink("/dev/full", out / "metrics.jsonl");
  const Run r = run(fmt::format("train --task reverse --steps 3 --out {} {}", out.string(), kTiny));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("cannot write " + (out / "metrics.jsonl").string()));
  fs::remove_all(dir);
}

TEST_CASE("hardening: a flipped byte anywhere in a checkpoint never crashes the loader") {
  // Checkpoints use HDF5's 1.8 formats, whose metadata is checksummed: the
  // oldest formats have none, and HDF5 crashed reading some flipped bits in
  // them (fuzz/fuzz_checkpoint found one in an attribute table).
  const fs::path dir = fresh_dir("hard_flip");
  const std::string ckpt = tiny_checkpoint(dir);
  std::string bytes = read_text(ckpt);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes[8] == 2);  // superblock version 2: the 1.8 formats
  const fs::path copy = dir / "flipped.h5";
  size_t refused = 0, loaded = 0;
  for (size_t offset = 0; offset < bytes.size(); offset += 601) {
    CAPTURE(offset);
    bytes[offset] ^= 0x10;
    { std::ofstream(copy, std::ios::binary) << bytes; }
    bytes[offset] ^= 0x10;
    try {
      const attnlab::CheckpointInfo info = attnlab::read_checkpoint_info(copy.string());
      const auto model = attnlab::make_model(info.model);
      attnlab::load_parameters(copy.string(), *model);
      attnlab::OptimizerConfig oc;
      oc.kind = info.train.optimizer;
      attnlab::Optimizer optimizer(model->named_parameters(), oc);
      attnlab::load_optimizer_state(copy.string(), optimizer);
      ++loaded;
    } catch (const attnlab::InputError& e) {
      ++refused;
      INFO(e.what());
      CHECK_THAT(e.what(), Contains(copy.string()));
    }
  }
  INFO("refused " << refused << ", loaded " << loaded);
  CHECK(refused > 10 * loaded);  // the flips that load fell where nothing reads
  fs::remove_all(dir);
}

TEST_CASE("hardening: a structure walk that dies or does not end in time refuses the file") {
  // Before HDF5 opens a file here, a separate process walks its structure
  // (io/structure_walk.h). A walker that hangs must not hang attnlab: past
  // ATTNLAB_HDF5_WALK_SECONDS it is killed and the file refused. A limit of
  // a nanosecond stands in for a hostile file that makes HDF5 loop.
  const fs::path dir = fresh_dir("hard_walk_limit");
  const std::string ckpt = tiny_checkpoint(dir);
  ::setenv("ATTNLAB_HDF5_WALK_SECONDS", "1e-9", 1);
  const std::string refusal = refusal_of_info(ckpt);
  CHECK_THAT(refusal, Contains("file '" + ckpt + "' is damaged or unreadable"));
  CHECK_THAT(refusal, Contains("did not finish reading its structure within 1e-09 s"));
  CHECK_THAT(refusal, Contains("ATTNLAB_HDF5_WALK_SECONDS"));
  int status = 0;
  const pid_t left = ::waitpid(-1, &status, WNOHANG);
  const int why = errno;
  CHECK(left == -1);  // no walker left, not even a zombie
  CHECK(why == ECHILD);

  ::setenv("ATTNLAB_HDF5_WALK_SECONDS", "soon", 1);
  CHECK_THAT(refusal_of_info(ckpt),
             Contains("environment variable ATTNLAB_HDF5_WALK_SECONDS='soon': expected a "
                      "positive number of seconds"));
  ::unsetenv("ATTNLAB_HDF5_WALK_SECONDS");

  // A walker that dies, as HDF5 does on some damaged files, refuses the file.
  ::setenv("ATTNLAB_HDF5_WALKER_CRASH_FOR_TEST", "1", 1);
  CHECK_THAT(refusal_of_info(ckpt),
             Contains("file '" + ckpt +
                      "' is damaged: HDF5 fails while reading its structure (signal 6)"));
  ::unsetenv("ATTNLAB_HDF5_WALKER_CRASH_FOR_TEST");
  CHECK(refusal_of_info(ckpt) == "(loaded)");  // the default limit lets it through
  fs::remove_all(dir);
}

TEST_CASE(
    "hardening: an unknown INI key is named with its line, even one like Boost's placeholder") {
  const fs::path dir = fresh_dir("hard_ini_key");
  { std::ofstream(dir / "run.ini") << "model = t5\n\n%canonical_option% = 4\n"; }
  const Run r = run_bounded(
      fmt::format("train --config {} --out {}", (dir / "run.ini").string(), (dir / "run").string()),
      dir / "log");
  CHECK(r.exit_code == 2);  // it looped forever in Boost's message formatting
  CHECK_THAT(r.output, Contains("run.ini:3: unrecognised option '%canonical_option%'"));
  fs::remove_all(dir);
}

TEST_CASE(
    "hardening: an argument that holds one of Boost's placeholders is quoted, not looped on") {
  const fs::path dir = fresh_dir("hard_placeholder");
  const std::string out = (dir / "run").string();
  // Each of these made Boost's message formatting loop forever (found by
  // fuzz/fuzz_config): the value or option name holds the very placeholder
  // that Boost's template puts it in.
  { std::ofstream(dir / "value.ini") << "model = t5\nstop-at = %value%\n"; }
  { std::ofstream(dir / "prefix.ini") << "pr%ef%canonical_option%prefi = 1\n"; }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --stop-at %value% --out " + out, "'%value%'"},
      {"train --threads x%value% --out " + out, "'x%value%'"},
      {"train --%canonical_option% --out " + out, "'--%canonical_option%'"},
      {"eval --ckpt %option%%value% --bogus%prefix%", "'--bogus%prefix%'"},
      {fmt::format("train --config {} --out {}", (dir / "value.ini").string(), out), "'%value%'"},
      {fmt::format("train --config {} --out {}", (dir / "prefix.ini").string(), out),
       "prefix.ini:1: "},
  };
  for (const auto& [args, quoted] : cases) {
    INFO(args);
    const Run r = run_bounded(args, dir / "log", 20);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(quoted));
  }
  fs::remove_all(dir);
}

TEST_CASE("hardening: every family refuses a too-long prediction input up front, naming it") {
  const fs::path dir = fresh_dir("hard_long_input");
  const std::string long_input(100, '(');
  // BERT classifies with [CLS]; GPT scores each label after BOS input SEP; T5 encodes input EOS.
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"--model bert --task brackets", "tokens with [CLS], more than the model's max_len 64"},
      {"--model gpt --task brackets", "tokens with BOS, SEP, the longest label and EOS"},
      {"--model t5 --task brackets", "tokens with EOS, more than the model's max_len 64"}};
  for (const auto& [model, says] : runs) {
    INFO(model);
    const fs::path out = dir / "run";
    fs::remove_all(out);
    REQUIRE(run(fmt::format("train {} --steps 1 --save-every 0 --max-len 64 --out {} {}", model,
                            out.string(), kTiny))
                .exit_code == 0);
    const Run r = run(fmt::format("predict --ckpt {} '()' '{}' '(())'",
                                  (out / "checkpoint.h5").string(), long_input));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("input 2 has") && Contains(says));
    CHECK_THAT(r.output, !Contains("\t"));  // nothing predicted before the refusal
  }
  fs::remove_all(dir);
}

TEST_CASE("hardening: a text too short for one block names the file and --block-size") {
  const fs::path dir = fresh_dir("hard_short_text");
  { std::ofstream(dir / "short.txt") << "hello\n"; }
  { std::ofstream(dir / "long.txt") << std::string(400, 'a') << "\n"; }
  const std::string lm = "train --model gpt --task-kind lm --steps 1 --block-size 32 --out " +
                         (dir / "run").string() + " --train-file ";
  Run r = run(lm + (dir / "short.txt").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output,
             Contains("the training text (from " + (dir / "short.txt").string() + ":1)") &&
                 Contains("--block-size"));
  r = run(lm + (dir / "long.txt").string() + " --valid-file " + (dir / "short.txt").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("the held-out text (from " + (dir / "short.txt").string() + ":1)"));
  fs::remove_all(dir);
}
