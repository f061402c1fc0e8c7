// Checkpoints for tests that damage or edit one: a tiny trained run, and the
// refusal its loader gives.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "cli_process.h"
#include "train/checkpoint.h"

namespace cli_test {

// A trained tiny GPT run in `dir`/run; returns its checkpoint path.
inline std::string tiny_checkpoint(const fs::path& dir, const std::string& extra = "") {
  const fs::path out = dir / "run";
  const Run r =
      run(fmt::format("train --model gpt --task reverse --steps 3 --save-every 0 "
                      "--out {} {} {}",
                      out.string(), kTiny, extra));
  REQUIRE(r.exit_code == 0);
  return (out / "checkpoint.h5").string();
}

// What read_checkpoint_info says of `path`: its error, or "(loaded)".
inline std::string refusal_of_info(const std::string& path) {
  try {
    attnlab::read_checkpoint_info(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace cli_test
