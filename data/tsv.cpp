#include "data/tsv.h"

#include "common/errors.h"
#include "data/read_file.h"
#include "data/text_file.h"
#include "data/utf8.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

namespace attnlab::data {
namespace {

struct Columns {
  std::string_view first_name;
  std::string_view second_name;
};

std::string read_whole_file(const std::string& path) {
  return read_regular_file(path, kMaxTextFileBytes);
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' '; });
}

bool only_whitespace(std::string_view field) {
  return std::all_of(field.begin(), field.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; });
}

// Parses the two tab-separated columns of each non-blank line, in file order.
TsvFile read_two_columns(const std::string& path, const Columns& columns) {
  const std::string contents = read_whole_file(path);
  std::string_view rest = contents;
  // Windows editors like to start UTF-8 files with a byte order mark; it is not data.
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);

  TsvFile file;
  file.path = path;
  const std::string expected_layout =
      fmt::format("expected '{}<TAB>{}'", columns.first_name, columns.second_name);
  for (std::size_t line_number = 1; !rest.empty(); ++line_number) {
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (is_blank(line)) continue;

    const std::string where = fmt::format("{}:{}", path, line_number);
    validate_utf8(line, where);
    const std::size_t tabs = static_cast<std::size_t>(std::count(line.begin(), line.end(), '\t'));
    if (tabs == 0) {
      throw InputError(
          fmt::format("{}: {} but the line has no tab character", where, expected_layout));
    }
    if (tabs > 1) {
      throw InputError(
          fmt::format("{}: {} but the line has {} tab characters (fields may not contain tabs)",
                      where, expected_layout, tabs));
    }
    const std::size_t tab = line.find('\t');
    const std::string_view first = line.substr(0, tab);
    const std::string_view second = line.substr(tab + 1);
    for (const auto& [field, name] :
         {std::pair{first, columns.first_name}, std::pair{second, columns.second_name}}) {
      if (only_whitespace(field)) {
        throw InputError(fmt::format("{}: the {} field is empty", where, name));
      }
    }
    file.examples.push_back({std::string(first), std::string(second)});
    file.lines.push_back(line_number);
  }
  if (file.examples.empty()) {
    throw InputError(
        fmt::format("{}: no examples (the file is empty or has only blank lines); {} on each line",
                    path, expected_layout));
  }
  return file;
}

}  // namespace

TsvFile read_translation_tsv(const std::string& path) {
  return read_two_columns(path, {"source", "target"});
}

TsvFile read_classification_tsv(const std::string& path) {
  TsvFile file = read_two_columns(path, {"label", "text"});
  // Store classification examples the way built-in tasks do: source = text, target = label.
  for (Example& example : file.examples) std::swap(example.source, example.target);
  return file;
}

void check_labels_known(const TsvFile& file, const std::vector<std::string>& known_labels) {
  // A set, not a search of the list for every example: there may be a million labels.
  const std::unordered_set<std::string_view> known(known_labels.begin(), known_labels.end());
  for (std::size_t i = 0; i < file.examples.size(); ++i) {
    const std::string& label = file.examples[i].target;
    if (!known.contains(label)) {
      throw InputError(fmt::format(
          "{}:{}: label '{}' does not occur in the training data, so no model could predict it "
          "(known labels: {})",
          file.path, file.lines[i], label, list_some(known_labels)));
    }
  }
}

Dataset load_tsv_dataset(TaskKind kind, const std::string& train_path,
                         const std::string& valid_path) {
  const auto read = kind == TaskKind::Translation ? read_translation_tsv : read_classification_tsv;
  Dataset dataset;
  dataset.name = train_path;
  dataset.kind = kind;
  const auto origins = [](const TsvFile& file) {
    std::vector<std::string> out;
    for (std::size_t line : file.lines) out.push_back(fmt::format("{}:{}", file.path, line));
    return out;
  };
  TsvFile train = read(train_path);
  dataset.train_origin = origins(train);
  dataset.train = std::move(train.examples);
  if (kind == TaskKind::Classification) dataset.labels = collect_labels(dataset.train);
  if (!valid_path.empty()) {
    TsvFile valid = read(valid_path);
    if (kind == TaskKind::Classification) check_labels_known(valid, dataset.labels);
    dataset.valid_origin = origins(valid);
    dataset.valid = std::move(valid.examples);
  }
  return dataset;
}

}  // namespace attnlab::data
