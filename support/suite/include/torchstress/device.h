// Device under test: which backend the suite exercises (TORCHSTRESS_DEVICE), the device a
// backend-specific test uses, and which backends TORCHSTRESS_REQUIRE says must run here.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "torchstress/backends.h"

namespace torchstress {

// Resolves the TORCHSTRESS_DEVICE knob (auto: mps, then cuda, then cpu). Under CTest resource
// allocation (CTEST_RESOURCE_GROUP_0_GPUS), cuda picks the allocated card.
c10::Device device_under_test();

// The device a test tied to `backend` runs on: mps, cpu, or for CUDA the device under test when
// it is a CUDA card (CTest may have allocated one), else cuda:0.
c10::Device device_for(Backend backend);

// Whether TORCHSTRESS_REQUIRE names `name` (cuda, mps, multigpu): its tests must run, not skip.
bool backend_required(const std::string& name);

// Empty when the device TORCHSTRESS_DEVICE asks for can run here; otherwise the one-line error
// (naming the value and what is accepted) that stops the binary with exit code 2.
std::string requested_device_problem();

// Parses CTEST_RESOURCE_GROUP_0_GPUS ("id:1,slots:1") into a card index; -1 when not set.
int ctest_allocated_gpu(const char* value);

}  // namespace torchstress
