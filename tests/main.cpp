// Catch2's main lives in its own translation unit so the test files stay quick to rebuild.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "autograd/parallel.h"

int main(int argc, char** argv) {
  // Tests that compare 1 and 2 threads must get the threads they ask for,
  // even while ctest runs another test beside them: no adapting to load
  // (tests/test_parallel.cpp turns it on where it is the subject).
  attnlab::set_adapt_to_load(false);
  return Catch::Session().run(argc, argv);
}
