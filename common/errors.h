// Errors the user fixes by changing their input: a file they named (data,
// --config, a checkpoint) or a value in it. The command line exits 2 for
// these, as for bad options (cli/cli_common.h), and 1 when the work itself
// failed. Deriving from std::runtime_error keeps every `catch` that handled
// these before working.
#pragma once

#include <stdexcept>

namespace attnlab {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace attnlab
