#include "train/kneser_ney.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "data/utf8.h"

namespace attnlab {

std::u32string code_points(const std::string& text, const std::string& source) {
  data::validate_utf8(text, source);
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const size_t length = data::code_point_length(text, i, source);
    char32_t c = length == 1   ? byte
                 : length == 2 ? byte & 0x1f
                 : length == 3 ? byte & 0x0f
                               : byte & 0x07;
    for (size_t k = 1; k < length; ++k)
      c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    out.push_back(c);
    i += length;
  }
  return out;
}

KneserNey::KneserNey(const std::u32string& chars, int max_order)
    : max_order_(max_order), tables_(size_t(max_order) + 1), discount_(size_t(max_order) + 1, 0.0) {
  if (max_order < 1 || max_order > 16)
    throw std::invalid_argument(fmt::format("n-gram order must be 1..16, got {}", max_order));
  const std::set<char32_t> distinct(chars.begin(), chars.end());
  uniform_ = 1.0 / double(distinct.size() + 1);  // and one unknown character
  // The highest order counts each n-gram (shorter at the text's start).
  for (size_t i = 0; i < chars.size(); ++i) {
    const size_t first = i >= size_t(max_order - 1) ? i - size_t(max_order - 1) : 0;
    Context& c = tables_[size_t(max_order)][chars.substr(first, i - first)];
    c.next[chars[i]] += 1;
    c.total += 1;
  }
  // Each lower order counts the distinct characters that precede its
  // n-grams in the order above: an n-gram seen after many contexts is a
  // likely continuation of a new one.
  for (int k = max_order - 1; k >= 1; --k) {
    for (const auto& [history, context] : tables_[size_t(k + 1)]) {
      // An n-gram at the text's start has no character before it: it counts as its own.
      const std::u32string shorter =
          history.size() >= size_t(k) ? history.substr(history.size() - size_t(k - 1)) : history;
      for (const auto& [w, count] : context.next) {
        Context& c = tables_[size_t(k)][shorter];
        c.next[w] += 1;
        c.total += 1;
        (void)count;
      }
    }
  }
  for (int k = 1; k <= max_order; ++k) {
    double n1 = 0, n2 = 0;
    for (const auto& [history, context] : tables_[size_t(k)])
      for (const auto& [w, count] : context.next) {
        if (count == 1) ++n1;
        if (count == 2) ++n2;
      }
    discount_[size_t(k)] = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
  }
}

double KneserNey::level(std::u32string_view history, char32_t w, int k) const {
  if (k == 0) return uniform_;
  const std::u32string_view h =
      history.size() > size_t(k - 1) ? history.substr(history.size() - size_t(k - 1)) : history;
  const double lower = level(h, w, k - 1);
  const auto it = tables_[size_t(k)].find(h);
  if (it == tables_[size_t(k)].end() || it->second.total == 0) return lower;
  const Context& c = it->second;
  const auto seen = c.next.find(w);
  const double count = seen == c.next.end() ? 0 : seen->second;
  const double d = discount_[size_t(k)];
  return std::max(count - d, 0.0) / c.total + d * double(c.next.size()) / c.total * lower;
}

double KneserNey::bits_per_char(const std::u32string& text) const {
  if (text.empty()) return 0;
  double bits = 0;
  const size_t context = size_t(max_order_ - 1);
  const std::u32string_view all(text);
  for (size_t i = 0; i < text.size(); ++i) {
    const size_t first = i >= context ? i - context : 0;
    bits -= std::log2(probability(all.substr(first, i - first), text[i]));
  }
  return bits / double(text.size());
}

}  // namespace attnlab
