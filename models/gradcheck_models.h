// The model-level cases of the `attnlab gradcheck` suite: each preset's loss
// with respect to every parameter (token embeddings included).
#pragma once

#include <vector>

#include "autograd/gradcheck.h"
#include "models/model.h"

namespace attnlab {

// A tiny float64, dropout-free version of a family's preset for checks.
ModelConfig tiny_config(Family family);

std::vector<GradCheckCase> model_gradcheck_cases();

}  // namespace attnlab
