// How an op joins the autograd graph. An op computes its result with named
// kernels (autograd/kernels/<op>.h), then calls `record_op` with its inputs and a
// backward function. The backward *returns* d(loss)/d(input) for each input;
// the engine checks every returned gradient against its input (shape and
// dtype) and accumulates it. An op never writes into a gradient buffer
// itself, so it cannot forget to add, add twice, or add into the wrong one.
// docs/adding-an-op.md walks through writing one.
#pragma once

#include <functional>
#include <vector>

#include "autograd/tensor.h"

namespace attnlab {

// What a backward function is given.
struct BackwardContext {
  const Tensor& grad_output;          // d(loss)/d(output): the output's shape and dtype
  const std::vector<Tensor>& inputs;  // the op's inputs, in the order given to record_op
  const Tensor& output;  // the op's result (no history) with SaveOutput::Yes, else undefined
  // Whether input i takes part in differentiation; a backward skips the work
  // for inputs that do not (and returns an undefined tensor for them).
  bool needs_grad(size_t i) const {
    return i < inputs.size() && inputs[i].defined() && inputs[i].requires_grad();
  }
  // A gradient buffer for input i (its shape and dtype) for a kernel to fill,
  // or an undefined tensor when input i needs no gradient. new_grad leaves
  // the values unset (for kernels that overwrite); new_zero_grad zeroes them
  // (for kernels that scatter-add).
  Tensor new_grad(size_t i) const {
    return needs_grad(i) ? Tensor::empty(inputs[i].shape(), inputs[i].dtype()) : Tensor();
  }
  Tensor new_zero_grad(size_t i) const {
    return needs_grad(i) ? Tensor::zeros(inputs[i].shape(), inputs[i].dtype()) : Tensor();
  }
};

// The data of t, or null when t is undefined: kernels take a null pointer
// for an optional operand (no bias) or an unwanted gradient.
template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Returns one gradient per input, in input order. An undefined entry means
// "no gradient for this input" (it needs none, or the op is constant in it).
using BackwardFn = std::function<std::vector<Tensor>(const BackwardContext&)>;

// Ops whose backward reads their own result (softmax, exp, tanh) ask the
// engine to keep it; the engine keeps a history-free alias, so the output
// never owns a reference to itself.
enum class SaveOutput { No, Yes };

// The record an op leaves on its output.
struct GradFn {
  const char* op = "";         // the op's name; every error raised in its backward names it
  std::vector<Tensor> inputs;  // all inputs, in order (undefined ones included)
  Tensor saved_output;         // see SaveOutput
  BackwardFn backward;
};

// Records the op on `out` when grad mode is on and some input requires grad;
// otherwise does nothing (the backward is never called).
void record_op(Tensor& out, const char* op, std::vector<Tensor> inputs, BackwardFn backward,
               SaveOutput save_output = SaveOutput::No);

}  // namespace attnlab
