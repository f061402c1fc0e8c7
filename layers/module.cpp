#include "layers/module.h"

#include <fmt/format.h>

#include <stdexcept>

namespace attnlab {

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

void Module::check_new_name(const std::string& name) const {
  if (name.empty())
    throw std::invalid_argument(fmt::format("{}: empty parameter or module name", where()));
  if (name.find('/') != std::string::npos)
    throw std::invalid_argument(
        fmt::format("{}: name '{}' must not contain '/' (it joins paths)", where(), name));
  for (const auto& [n, _] : params_)
    if (n == name)
      throw std::invalid_argument(fmt::format("{}: duplicate name '{}'", where(), name));
  for (const auto& [n, _] : children_)
    if (n == name)
      throw std::invalid_argument(fmt::format("{}: duplicate name '{}'", where(), name));
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  if (!value.defined() || !value.is_leaf())
    throw std::invalid_argument(
        fmt::format("{}: parameter '{}' must be a defined leaf tensor", where(), name));
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  if (!module)
    throw std::invalid_argument(fmt::format("{}: submodule '{}' is null", where(), name));
  children_.emplace_back(name, module);
  module->set_path(join_path(path_, name));
}

void Module::set_path(const std::string& path) {
  path_ = path;
  for (auto& [name, child] : children_) child->set_path(join_path(path_, name));
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out(params_);
  for (const auto& [name, child] : children_)
    for (auto& [sub, t] : child->named_parameters()) out.emplace_back(join_path(name, sub), t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child.get());
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(join_path(name, sub), m);
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& [_, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

}  // namespace attnlab
