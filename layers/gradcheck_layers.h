// The layer-level cases of the `attnlab gradcheck` suite.
#pragma once

#include <vector>

#include "autograd/gradcheck.h"

namespace attnlab {

std::vector<GradCheckCase> layer_gradcheck_cases();

}  // namespace attnlab
