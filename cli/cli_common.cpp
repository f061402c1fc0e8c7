#include "cli/cli_common.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <iostream>

#include "autograd/parallel.h"

namespace attnlab::cli {

bool parse_options(const std::string& command, const std::string& summary, int argc, char** argv,
                   po::options_description& options, po::variables_map& vm,
                   const po::positional_options_description* positional) {
  options.add_options()("help,h", "show this help and exit");
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(options);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << fmt::format("usage: attnlab {} [options]\n{}\n\n", command, summary) << options
                << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(fmt::format("{} (see 'attnlab {} --help')", e.what(), command));
  }
  return true;
}

void apply_threads(int threads) {
  if (threads < 0) throw UsageError(fmt::format("--threads must be >= 0, got {}", threads));
  // More threads than cores only wait for each other; thousands exhaust the process.
  const int cores = std::max(1, omp_get_num_procs());
  const int most = std::max(64, 4 * cores);
  if (threads > most)
    throw UsageError(
        fmt::format("--threads {}: at most {} on this machine ({} cores; 0 uses them all)", threads,
                    most, cores));
  set_thread_count(threads);
  flush_denormals_to_zero();  // again: a new thread count may start new workers
}

}  // namespace attnlab::cli
