// attnlab: train and study BERT-, GPT- and T5-style attention models.
// This file only dispatches to the commands in cli/ (declared in cli/commands.h and
// cli/gradcheck_command.h).
#include <fmt/format.h>

#include <new>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <string>

#include "autograd/parallel.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/gradcheck_command.h"
#include "common/errors.h"
#include "dist/communicator.h"

namespace {

// Messages to stderr never throw: a full or closed stderr must not turn a
// refusal into an abort.
void tell(const std::string& text) noexcept {
  std::fputs(text.c_str(), stderr);
}

struct Command {
  std::function<int(int, char**)> run;
  const char* summary;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"train", {attnlab::train_command, "train a model on a built-in task or your TSV data"}},
      {"eval", {attnlab::eval_command, "held-out metrics of a checkpoint"}},
      {"compare",
       {attnlab::compare_command,
        "train every family on one task and budget; a table and an HTML report"}},
      {"describe",
       {attnlab::describe_command,
        "the model families side by side: attention, masks, parameters, FLOPs, memory"}},
      {"trace", {attnlab::trace_command, "where every attention of a model looks, for one input"}},
      {"ablate",
       {attnlab::ablate_command,
        "held-out metrics with attention heads removed, against the intact model"}},
      {"lens",
       {attnlab::lens_command,
        "the logit lens: what a decoder already predicts after each of its blocks"}},
      {"patch",
       {attnlab::patch_command,
        "activation patching: where a clean input's answer is carried through the model"}},
      {"plot", {attnlab::plot_command, "training and held-out curves of runs, as SVG"}},
      {"baseline",
       {attnlab::baseline_command, "a non-neural baseline (character n-gram naive Bayes)"}},
      {"predict", {attnlab::predict_command, "translate or classify texts with a checkpoint"}},
      {"tasks", {attnlab::tasks_command, "list the built-in tasks and recipes"}},
      {"generate",
       {attnlab::generate_command, "continue a prompt with a language model, streaming the text"}},
      {"gradcheck",
       {attnlab::gradcheck_command, "check every op, layer and model gradient in float64"}},
  };
  return table;
}

void print_usage() {
  fmt::print("usage: attnlab <command> [options]   (attnlab <command> --help for its options)\n\n");
  fmt::print("commands:\n");
  for (const auto& [name, cmd] : commands()) fmt::print("  {:<12} {}\n", name, cmd.summary);
}

// Runs one command and maps its outcome to the exit codes of cli_common.h.
// `who` names the command (and the rank, when there are several) in messages.
int run_command(const Command& command, const std::string& who, int argc, char** argv) {
  namespace cli = attnlab::cli;
  try {
    // The command sees its own name as argv[0], like a standalone program.
    const int rc = command.run(argc - 1, argv + 1);
    // Results that never reached stdout (a full disk, /dev/full, a closed
    // pipe) are a failure, not a success with nothing to show.
    std::cout.flush();
    if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
      tell(fmt::format("attnlab {}: error: cannot write the standard output: {}\n", who,
                       std::strerror(errno)));
      return cli::kExitFailure;
    }
    return rc;
  } catch (const cli::UsageError& e) {
    tell(fmt::format("attnlab {}: {}\n", who, e.what()));
    return cli::kExitUsage;
  } catch (const attnlab::InputError& e) {  // a file the user named, or a value in it
    tell(fmt::format("attnlab {}: {}\n", who, e.what()));
    return cli::kExitUsage;
  } catch (cli::po::error& e) {  // one that escaped a command's own parsing
    tell(fmt::format("attnlab {}: {}\n", who, cli::describe_option_error(e)));
    return cli::kExitUsage;
  } catch (const std::invalid_argument& e) {  // a value that fails validation
    tell(fmt::format("attnlab {}: {}\n", who, e.what()));
    return cli::kExitUsage;
  } catch (const std::bad_alloc&) {
    // The figures behind it are the options': say which ones set the size.
    tell(fmt::format(
        "attnlab {}: error: out of memory while running `attnlab {}`: the process may not "
        "have the memory this work needs (see `ulimit -v` and the machine's memory); make "
        "it smaller with the data's size (--train-size), --batch-size, --block-size, "
        "--seq, --lengths or the model's size options\n",
        who, who));
    return cli::kExitFailure;
  } catch (const std::exception& e) {
    tell(fmt::format("attnlab {}: error: {}\n", who, e.what()));
    return cli::kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = attnlab::cli;
  namespace dist = attnlab::dist;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage();
    if (std::fflush(stdout) != 0) {
      tell(fmt::format("attnlab: error: cannot write the standard output: {}\n",
                       std::strerror(errno)));
      return cli::kExitFailure;
    }
    return argc < 2 ? cli::kExitUsage : cli::kExitOk;
  }
  std::string name = argv[1];
  auto it = commands().find(name);
  if (it == commands().end()) {
    tell(fmt::format("attnlab: unknown command '{}'\n\n", name));
    print_usage();
    return cli::kExitUsage;
  }
  attnlab::flush_denormals_to_zero();
  // Started by mpirun: join the other ranks (a plain start never touches MPI).
  try {
    dist::init();
  } catch (const std::exception& e) {
    tell(fmt::format("attnlab {}: {}\n", name, e.what()));
    return cli::kExitUsage;
  }
  const dist::Communicator& world = dist::Communicator::world();
  if (world.distributed() && name != "train") {
    if (world.is_root())
      tell(fmt::format(
          "attnlab {}: only train runs across MPI ranks; run {} without mpirun (or with "
          "-np 1)\n",
          name, name));
    dist::finalize();
    return cli::kExitUsage;
  }
  const std::string who = world.distributed()
                              ? fmt::format("{} (rank {} of {})", name, world.rank(), world.size())
                              : name;
  const int rc = run_command(it->second, who, argc, argv);
  // A rank that failed may leave the others waiting in a collective: end them all.
  if (world.distributed() && (rc == cli::kExitFailure || rc == cli::kExitUsage)) world.abort(rc);
  dist::finalize();
  return rc;
}
