// Shared plumbing for the `attnlab <command>` entry points: option parsing
// with Boost.Program_options, uniform error messages and exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace attnlab::cli {

namespace po = boost::program_options;

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and found a problem
inline constexpr int kExitUsage = 2;    // bad command line or input

// Thrown for bad options or input; main prints "attnlab <command>: <what>".
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses argv (after the command word) against `options`; rejects unknown
// options and stray positional arguments unless `positional` names where they
// go. Returns false when --help was asked (help already printed).
bool parse_options(const std::string& command, const std::string& summary, int argc, char** argv,
                   po::options_description& options, po::variables_map& vm,
                   const po::positional_options_description* positional = nullptr);

// Sets the OpenMP thread count from --threads (0 keeps the default).
void apply_threads(int threads);

}  // namespace attnlab::cli
