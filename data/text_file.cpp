#include "data/text_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/errors.h"
#include "data/read_file.h"
#include "data/utf8.h"

namespace attnlab::data {

namespace {

// Where each line of `text` starts.
std::vector<size_t> line_starts(const std::string& text) {
  std::vector<size_t> starts;
  for (size_t start = 0; start < text.size();) {
    starts.push_back(start);
    const size_t newline = text.find('\n', start);
    start = newline == std::string::npos ? text.size() : newline + 1;
  }
  return starts;
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::string text = read_regular_file(path, kMaxTextFileBytes);
  if (text.empty()) throw InputError(fmt::format("{}: the file is empty", path));
  size_t number = 1;
  for (size_t start = 0; start < text.size(); ++number) {
    const size_t newline = text.find('\n', start);
    const size_t end = newline == std::string::npos ? text.size() : newline + 1;
    validate_utf8(std::string_view(text).substr(start, end - start),
                  fmt::format("{}:{}", path, number));
    start = end;
  }
  return text;
}

Dataset load_text_dataset(const std::string& train_path, const std::string& valid_path) {
  Dataset dataset;
  dataset.name = train_path;
  dataset.kind = TaskKind::LanguageModel;
  std::string text = read_text_file(train_path);
  if (!valid_path.empty()) {
    dataset.valid = {Example{read_text_file(valid_path), ""}};
    dataset.valid_origin = {fmt::format("{}:1", valid_path)};
  } else {
    const std::vector<size_t> starts = line_starts(text);
    size_t cut = 0;
    if (starts.size() >= 10) {  // the last tenth of the lines
      const size_t held = starts.size() / 10;
      cut = starts[starts.size() - held];
      dataset.valid_origin = {fmt::format("{}:{}", train_path, starts.size() - held + 1)};
    } else {  // few lines (one long line is common): the last tenth of the characters
      const size_t chars = count_code_points(text, train_path);
      if (chars < 2)
        throw InputError(fmt::format(
            "{}: needs at least 2 characters to hold one out for evaluation", train_path));
      const size_t keep = chars - std::max<size_t>(1, chars / 10);
      for (size_t i = 0; i < keep; ++i) cut += code_point_length(text, cut, train_path);
      dataset.valid_origin = {train_path + " (its last tenth)"};
    }
    dataset.valid = {Example{text.substr(cut), ""}};
    text.resize(cut);
    text.shrink_to_fit();
  }
  dataset.train = {Example{std::move(text), ""}};
  dataset.train_origin = {fmt::format("{}:1", train_path)};
  return dataset;
}

}  // namespace attnlab::data
