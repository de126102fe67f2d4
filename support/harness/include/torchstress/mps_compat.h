// MPS API across LibTorch versions: TORCHSTRESS_MPS_API is 1 where torch/mps.h exists (2.1+),
// and the MPS code paths compile (on Linux too; they run only on Apple silicon).
#pragma once

#if defined(__has_include)
#if __has_include(<torch/mps.h>)
#include <torch/mps.h>
#define TORCHSTRESS_MPS_API 1
#endif
#endif
#ifndef TORCHSTRESS_MPS_API
#define TORCHSTRESS_MPS_API 0
#endif
