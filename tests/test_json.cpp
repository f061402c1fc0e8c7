// JSON Lines as attnlab writes them (common/json.h).
#include <catch2/catch.hpp>
#include <cmath>

#include "common/json.h"

using attnlab::Json;
using attnlab::json_line;

TEST_CASE("json: a line is spaced like Python's json.dumps and reads back the same") {
  const Json j = {{"step", 3},     {"text", "say \"hi\"\n\tthen go"},
                  {"loss", 0.1},   {"nothing", NAN},
                  {"ids", {1, 2}}, {"nested", {{"pos", 0.25}}}};
  const std::string line = json_line(j);
  CHECK(line == R"({"step": 3, "text": "say \"hi\"\n\tthen go", "loss": 0.1, "nothing": null, )"
                R"("ids": [1, 2], "nested": {"pos": 0.25}})");
  const Json back = Json::parse(line);
  CHECK(back.at("text") == "say \"hi\"\n\tthen go");
  CHECK(back.at("loss").get<double>() == 0.1);  // shortest text that reads back exactly
  CHECK(back.at("nothing").is_null());
}

TEST_CASE("json: bytes that are not UTF-8 are replaced, never thrown on") {
  const std::string line = json_line(Json{{"input", std::string("a\xff"
                                                                "b")}});
  CHECK(line ==
        "{\"input\": \"a\xEF\xBF\xBD"
        "b\"}");
}
