// Module: the base of every layer and model. Parameters and submodules are
// registered by name; names join into paths ("decoder/layers/0/cross_attn/
// q_proj/weight") that are the checkpoint keys, the weight-decay groups and
// the prefix of every error message a module throws.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"

namespace attnlab {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter below this module, depth-first in registration order,
  // named by its path relative to this module.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // Every module below this one, depth-first in registration order, named
  // by its path relative to this module (e.g. to find its attentions).
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t parameter_count() const;
  // Train mode enables dropout; eval mode disables it. Applies recursively.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // This module's path from the root ("" for the root itself).
  const std::string& path() const { return path_; }
  // "decoder/layers/1/cross_attn" or "<root>": the prefix for error messages.
  std::string where() const { return path_.empty() ? "<root>" : path_; }

 protected:
  // Registers a leaf tensor as a trainable parameter (requires_grad is set).
  Tensor register_parameter(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void set_path(const std::string& path);

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::string path_;
  bool training_ = true;
};

// An ordered list of submodules named "0", "1", ... (paths "layers/0/...").
template <typename M>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> module) {
    items_.push_back(register_module(std::to_string(items_.size()), std::move(module)));
  }
  size_t size() const { return items_.size(); }
  const M& operator[](size_t i) const { return *items_[i]; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

// Joins path components with '/', skipping empty ones.
std::string join_path(const std::string& a, const std::string& b);

// Eval mode (no dropout) and no graph for the scope, restoring the module's
// previous mode after: for evaluation, prediction and samples during training.
struct EvalScope {
  Module& m;
  bool was_training;
  NoGradGuard no_grad;
  explicit EvalScope(Module& module) : m(module), was_training(module.is_training()) { m.eval(); }
  ~EvalScope() { m.train(was_training); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;
};

}  // namespace attnlab
