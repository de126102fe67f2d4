// Loud skips: a test whose backend is absent says why and shows as SKIPPED (never a silent pass),
// unless TORCHSTRESS_REQUIRE names that backend: then the same test FAILS with the reason, so a
// fork's CI runner that must have the hardware can never go green by skipping.
#pragma once

#include <gtest/gtest.h>

#include "torchstress/device.h"

// Skips with `reason`, or fails with it when `required_name` ("cuda", "mps", "multigpu") is in
// TORCHSTRESS_REQUIRE. Use at the top level of a TEST body.
#define TORCHSTRESS_SKIP_BACKEND(required_name, reason)                                                    \
  do {                                                                                                     \
    if (::torchstress::backend_required(required_name)) {                                                  \
      GTEST_FAIL() << "required backend " << (required_name) << " (TORCHSTRESS_REQUIRE) cannot run here: " \
                   << (reason);                                                                            \
    }                                                                                                      \
    GTEST_SKIP() << (reason);                                                                              \
  } while (0)

#define TORCHSTRESS_SKIP_UNLESS_AVAILABLE(backend)                                        \
  do {                                                                                    \
    std::string torchstress_skip_reason_;                                                 \
    if (!::torchstress::backend_available((backend), &torchstress_skip_reason_)) {        \
      TORCHSTRESS_SKIP_BACKEND(::torchstress::backend_name(backend), torchstress_skip_reason_); \
    }                                                                                     \
  } while (0)
