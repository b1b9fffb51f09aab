// The Catch2 runner for mtls-unit-tests; the tests live in test_*.cc.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
