// Catch2's main lives in its own translation unit so the test files stay quick to rebuild.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
