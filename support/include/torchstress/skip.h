// Loud skips: a test whose backend is absent says why and shows as SKIPPED (never a silent pass).
#pragma once

#include <gtest/gtest.h>

#include "torchstress/device.h"

// Use at the top of a TEST body.
#define TORCHSTRESS_SKIP_UNLESS_AVAILABLE(backend)                                 \
  do {                                                                             \
    std::string torchstress_skip_reason_;                                          \
    if (!::torchstress::backend_available((backend), &torchstress_skip_reason_)) { \
      GTEST_SKIP() << torchstress_skip_reason_;                                    \
    }                                                                              \
  } while (0)
