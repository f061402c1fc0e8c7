// A character n-gram language model with interpolated Kneser-Ney smoothing:
// the held-out bits per character a trained language model should beat, as
// naive Bayes is for classification (train/baseline.h).
//
// Characters are Unicode code points, newlines included, as the char
// tokenizer reads a text. For an order-N model:
//
//   P_N(w | h) = max(c(hw) - D_N, 0) / c(h) + D_N * N1+(h.) / c(h) * P_{N-1}(w | h')
//
// with h the N-1 characters before w and h' its last N-2. The highest order
// counts n-grams; every lower order counts continuations (how many distinct
// characters precede the n-gram), Kneser and Ney's insight. D_k =
// n1 / (n1 + 2 n2) from the k-grams counted once and twice. Order 0 is
// uniform over the training text's characters and one unknown character.
// A context never seen falls back to the next lower order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attnlab {

class KneserNey {
 public:
  // Counts every n-gram of the characters `text` (code_points below) up to
  // `max_order` characters.
  KneserNey(const std::u32string& text, int max_order);
  int max_order() const { return max_order_; }
  // P(w | the max_order() - 1 characters of `history` before it).
  double probability(std::u32string_view history, char32_t w) const {
    return level(history, w, max_order_);
  }
  // Held-out bits per character of `text`; each character is predicted
  // from the text before it (the first ones from shorter histories).
  double bits_per_char(const std::u32string& text) const;
  // The discount of order k (1..max_order).
  double discount(int k) const { return discount_[size_t(k)]; }

 private:
  // Contexts are looked up by view: a held-out text is scored without a
  // string per character and order.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::u32string_view s) const { return std::hash<std::u32string_view>{}(s); }
  };
  struct Context {
    double total = 0;                           // c(h): counts (or continuations) after h
    std::unordered_map<char32_t, double> next;  // c(hw) for each w seen after h
  };
  // P_k(w | the last k-1 characters of history).
  double level(std::u32string_view history, char32_t w, int k) const;
  int max_order_;
  // tables_[k]: contexts of k-1 characters and the counts of what follows,
  // raw counts for k = max_order, continuation counts below.
  std::vector<std::unordered_map<std::u32string, Context, Hash, std::equal_to<>>> tables_;
  std::vector<double> discount_;
  double uniform_ = 0;  // 1 / (distinct characters + 1)
};

// The code points of UTF-8 `text`; throws InputError naming `source`.
std::u32string code_points(const std::string& text, const std::string& source);

}  // namespace attnlab
