#include "cli/cli_common.h"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "autograd/parallel.h"
#include "dist/communicator.h"

namespace attnlab::cli {

namespace {

// Boost keeps the words it fills in as a protected member; a pointer to that
// member, formed in a derived class, reaches them in any error object.
struct OptionErrorWords : po::error_with_option_name {
  static std::map<std::string, std::string>& of(po::error_with_option_name& e) {
    return e.*(&OptionErrorWords::m_substitutions);
  }
};

// Stands in for '%' while Boost builds the message: an ASCII control
// character that no option name or placeholder contains.
constexpr char kPercentStandIn = '\x1f';

}  // namespace

std::string describe_option_error(po::error& e) {
  auto* with_words = dynamic_cast<po::error_with_option_name*>(&e);
  if (!with_words) return e.what();  // a fixed message: nothing is filled in
  for (auto& [placeholder, words] : OptionErrorWords::of(*with_words))
    std::replace(words.begin(), words.end(), '%', kPercentStandIn);
  std::string message = e.what();
  std::replace(message.begin(), message.end(), kPercentStandIn, '%');
  return message;
}

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
  } catch (po::error& e) {
    throw UsageError(
        fmt::format("{} (see 'attnlab {} --help')", describe_option_error(e), command));
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
  // Ranks on one machine share its cores: by default each takes its part,
  // so that `mpirun -np 2` on 2 cores does not oversubscribe them. A rank
  // that mpirun bound to some cores (omp_get_num_procs counts only those)
  // already has its part.
  const int ranks_here = dist::Communicator::world().local_size();
  const bool bound = cores < int(std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN)));
  if (threads == 0 && ranks_here > 1 && !bound) threads = std::max(1, cores / ranks_here);
  set_thread_count(threads);
  flush_denormals_to_zero();  // again: a new thread count may start new workers
}

std::vector<std::string> parse_name_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& option, const std::string& text) {
  std::vector<int64_t> out;
  for (const std::string& item : parse_name_list(text)) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v <= 0)
      throw UsageError(fmt::format("{} {}: '{}' is not a positive integer", option, text, item));
    out.push_back(v);
  }
  if (out.empty())
    throw UsageError(fmt::format("{}: expected a comma-separated list, got '{}'", option, text));
  return out;
}

}  // namespace attnlab::cli
