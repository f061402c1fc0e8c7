// Shared plumbing for the `attnlab <command>` entry points: option parsing
// with Boost.Program_options, uniform error messages and exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace attnlab::cli {

namespace po = boost::program_options;

// Exit codes shared by every command:
//   2  nothing was done: fix the command line or a file it names (an option's
//      value or combination, a data or --config file, a checkpoint). Thrown
//      as UsageError, InputError (common/errors.h) or std::invalid_argument.
//   1  the work started and failed: a file could not be written, the loss
//      became NaN, a check of the results failed.
//   128 + N: stopped by signal N after saving (train).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown for bad options or input; main prints "attnlab <command>: <what>".
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a Boost.Program_options error says. Use this, never e.what() on a
// po::error: Boost fills the user's words into a template such as "the
// argument ('%value%') for option '%canonical_option%' is invalid" by
// replacing each placeholder until none is left, so an argument that holds a
// placeholder itself ('--stop-at %value%') made what() loop forever.
std::string describe_option_error(po::error& e);

// Parses argv (after the command word) against `options`; rejects unknown
// options and stray positional arguments unless `positional` names where they
// go. Returns false when --help was asked (help already printed).
bool parse_options(const std::string& command, const std::string& summary, int argc, char** argv,
                   po::options_description& options, po::variables_map& vm,
                   const po::positional_options_description* positional = nullptr);

// "a,b" -> {"a", "b"}; empty items are dropped.
std::vector<std::string> parse_name_list(const std::string& text);
// A comma list of positive integers, for `option`; throws UsageError naming it.
std::vector<int64_t> parse_int_list(const std::string& option, const std::string& text);

// Sets the OpenMP thread count from --threads. 0 uses every core, or under
// mpirun this rank's share of the cores of its machine.
void apply_threads(int threads);

}  // namespace attnlab::cli
