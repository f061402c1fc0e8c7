// `attnlab gradcheck`: runs every float64 gradient check (ops, and the layers
// and models as they register theirs) and prints a table.
#pragma once

#include <vector>

#include "autograd/gradcheck.h"

namespace attnlab {

// The whole suite, in the order the table shows it.
std::vector<GradCheckCase> all_gradcheck_cases();

int gradcheck_command(int argc, char** argv);

}  // namespace attnlab
