#include "cli/gradcheck_command.h"

#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/cli_common.h"
#include "layers/gradcheck_layers.h"
#include "models/gradcheck_models.h"

namespace attnlab {

std::vector<GradCheckCase> all_gradcheck_cases() {
  std::vector<GradCheckCase> cases = op_gradcheck_cases();
  for (auto* more : {&layer_gradcheck_cases, &model_gradcheck_cases})
    for (auto& c : more()) cases.push_back(std::move(c));
  return cases;
}

int gradcheck_command(int argc, char** argv) {
  namespace po = cli::po;
  po::options_description options("gradcheck options");
  std::string only;
  int threads = 0;
  options.add_options()  //
      ("only", po::value(&only),
       "run only the checks whose name starts with NAME (e.g. matmul, layer_norm)")  //
      ("list", "list the check names and exit")                                      //
      ("threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = default)");
  po::variables_map vm;
  if (!cli::parse_options("gradcheck",
                          "Compares the analytic gradients of every op, layer and model with "
                          "central finite differences in "
                          "float64 (eps 1e-6, atol 1e-5, rtol 1e-3).",
                          argc, argv, options, vm))
    return cli::kExitOk;
  cli::apply_threads(threads);

  std::vector<GradCheckCase> selected;
  for (auto& c : all_gradcheck_cases())
    if (c.name.rfind(only, 0) == 0) selected.push_back(std::move(c));
  if (selected.empty())
    throw cli::UsageError(
        fmt::format("--only {}: no gradient check has a name starting with '{}' "
                    "(see 'attnlab gradcheck --list')",
                    only, only));
  if (vm.count("list")) {
    for (const auto& c : selected) fmt::print("{:<34} {}\n", c.name, c.shapes);
    return cli::kExitOk;
  }

  size_t name_w = 4, shape_w = 6;
  for (const auto& c : selected) {
    name_w = std::max(name_w, c.name.size());
    shape_w = std::max(shape_w, c.shapes.size());
  }
  fmt::print("{:<{}}  {:<{}}  {:>12}  {:>12}  {}\n", "check", name_w, "shapes", shape_w,
             "max abs err", "max rel err", "result");
  int failed = 0;
  auto start = std::chrono::steady_clock::now();
  for (const auto& c : selected) {
    std::string result;
    GradCheckResult r;
    try {
      r = c.run();
      result = r.passed ? "pass" : "FAIL  worst: " + r.worst;
    } catch (const std::exception& e) {
      r.passed = false;
      result = std::string("ERROR ") + e.what();
    }
    failed += !r.passed;
    fmt::print("{:<{}}  {:<{}}  {:>12.3e}  {:>12.3e}  {}\n", c.name, name_w, c.shapes, shape_w,
               r.max_abs_error, r.max_rel_error, result);
    std::cout.flush();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("\n{} checks, {} passed, {} failed ({:.1f} s)\n", selected.size(),
             selected.size() - failed, failed, secs);
  return failed ? cli::kExitFailure : cli::kExitOk;
}

}  // namespace attnlab
