#include "data/text_file.h"

#include <fmt/format.h>
#include "common/errors.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "data/read_file.h"
#include "data/utf8.h"

namespace attnlab::data {

namespace {

// Each line of `path` as an example, and where it came from ("path:N").
std::vector<Example> read_lines(const std::string& path, std::vector<std::string>& origins) {
  std::istringstream in(read_regular_file(path, kMaxTextFileBytes));
  std::vector<Example> lines;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    validate_utf8(line, fmt::format("{}:{}", path, number));
    if (!in.eof()) line += '\n';  // keep the newline: it is text the model learns too
    lines.push_back(Example{std::move(line), ""});
    origins.push_back(fmt::format("{}:{}", path, number));
    line.clear();
  }
  if (in.bad()) throw InputError(fmt::format("{}: read error", path));
  if (lines.empty()) throw InputError(fmt::format("{}: the file is empty", path));
  return lines;
}

}  // namespace

Dataset load_text_dataset(const std::string& train_path, const std::string& valid_path) {
  Dataset dataset;
  dataset.name = train_path;
  dataset.kind = TaskKind::LanguageModel;
  dataset.train = read_lines(train_path, dataset.train_origin);
  if (!valid_path.empty()) dataset.valid = read_lines(valid_path, dataset.valid_origin);
  return dataset;
}

}  // namespace attnlab::data
