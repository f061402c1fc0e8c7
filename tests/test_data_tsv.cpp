// TSV readers for user data.
#include "data/tsv.h"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

using namespace attnlab::data;
using Catch::Matchers::Contains;

namespace {

// A fresh directory per test case, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("attnlab_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `contents` byte for byte and returns the file's path.
  std::string write(const std::string& name, const std::string& contents) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << contents;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("data: translation TSV with blank lines, CRLF and a BOM", "[data][tsv]") {
  TempDir dir;
  const std::string path =
      dir.write("train.tsv", "\xEF\xBB\xBFhello\tbonjour\r\n\r\n  \ncat\tchat\r\nhéllo wörld\t✓\n");
  const TsvFile file = read_translation_tsv(path);
  REQUIRE(file.examples.size() == 3);
  CHECK(file.examples[0] == Example{"hello", "bonjour"});
  CHECK(file.examples[1] == Example{"cat", "chat"});
  CHECK(file.examples[2] == Example{"héllo wörld", "✓"});
  CHECK(file.lines == std::vector<std::size_t>{1, 4, 5});

  const std::string no_final_newline = dir.write("short.tsv", "a\tb");
  CHECK(read_translation_tsv(no_final_newline).examples.size() == 1);
}

TEST_CASE("data: classification TSV puts the label in the target", "[data][tsv]") {
  TempDir dir;
  const TsvFile file =
      read_classification_tsv(dir.write("train.tsv", "positive\tgreat film\nnegative\tdull\n"));
  REQUIRE(file.examples.size() == 2);
  CHECK(file.examples[0] == Example{"great film", "positive"});
  CHECK(collect_labels(file.examples) == std::vector<std::string>{"negative", "positive"});
}

TEST_CASE("data: TSV errors name the file, the line and the problem", "[data][tsv]") {
  TempDir dir;
  const std::string missing = dir.write("unused", "") + ".missing";
  CHECK_THROWS_WITH(read_translation_tsv(missing), Contains(missing) && Contains("cannot open"));

  const std::string empty = dir.write("empty.tsv", "");
  CHECK_THROWS_WITH(read_translation_tsv(empty), Contains(empty) && Contains("no examples"));
  const std::string blank = dir.write("blank.tsv", "\n\r\n   \n");
  CHECK_THROWS_WITH(read_translation_tsv(blank), Contains("no examples"));

  const std::string no_tab = dir.write("no_tab.tsv", "a\tb\n\nsource only\n");
  CHECK_THROWS_WITH(read_translation_tsv(no_tab), Contains(no_tab + ":3:") && Contains("no tab"));

  const std::string two_tabs = dir.write("two_tabs.tsv", "a\tb\tc\n");
  CHECK_THROWS_WITH(read_translation_tsv(two_tabs),
                    Contains(two_tabs + ":1:") && Contains("2 tab characters"));

  const std::string empty_target = dir.write("empty_target.tsv", "a\tb\nc\t\n");
  CHECK_THROWS_WITH(read_translation_tsv(empty_target),
                    Contains(empty_target + ":2:") && Contains("target field is empty"));

  const std::string empty_label = dir.write("empty_label.tsv", "pos\tok\n \tfine\n");
  CHECK_THROWS_WITH(read_classification_tsv(empty_label),
                    Contains(empty_label + ":2:") && Contains("label field is empty"));

  const std::string bad_utf8 = dir.write("bad_utf8.tsv", "a\tb\nc\td\xC3\n");
  CHECK_THROWS_WITH(read_translation_tsv(bad_utf8),
                    Contains(bad_utf8 + ":2:") && Contains("invalid UTF-8"));
}

TEST_CASE("data: validation labels must occur in training", "[data][tsv]") {
  TempDir dir;
  const std::string train = dir.write("train.tsv", "pos\tgood\nneg\tbad\n");
  const std::string valid = dir.write("valid.tsv", "pos\tfine\n\nneutral\tmeh\n");
  CHECK_THROWS_WITH(load_tsv_dataset(TaskKind::Classification, train, valid),
                    Contains(valid + ":3:") && Contains("'neutral'") && Contains("neg, pos"));

  const std::string good_valid = dir.write("good_valid.tsv", "neg\tawful\n");
  const Dataset data = load_tsv_dataset(TaskKind::Classification, train, good_valid);
  CHECK(data.kind == TaskKind::Classification);
  CHECK(data.labels == std::vector<std::string>{"neg", "pos"});
  CHECK(data.train.size() == 2);
  CHECK(data.valid == std::vector<Example>{{"awful", "neg"}});

  const Dataset translation = load_tsv_dataset(TaskKind::Translation, train);
  CHECK(translation.labels.empty());
  CHECK(translation.valid.empty());
  CHECK(translation.train[0] == Example{"pos", "good"});
}
