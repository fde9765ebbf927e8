// GPU paths checked against their CPU references (skipped when no CUDA device is present).
#include "codec/model_io.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;

TEST_CASE("CUDA colour conversion is bit-identical to the CPU one", "[cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  torch::manual_seed(7);
  // Values slightly outside [0,1] too: the conversion clips per YUV sample, as the CPU one does.
  torch::Tensor rgb = torch::rand({3, 3, 40, 70}) * 1.1 - 0.05;
  for (int matrix : {1, 6, 9})
    for (bool full : {false, true}) {
      auto cpu = rgb_batch_to_frames(rgb, 64, 36, matrix, full);
      auto gpu = rgb_batch_to_frames(rgb.to(torch::kCUDA), 64, 36, matrix, full);
      REQUIRE(cpu.size() == gpu.size());
      for (size_t i = 0; i < cpu.size(); ++i) {
        CHECK(cpu[i].y == gpu[i].y);
        CHECK(cpu[i].u == gpu[i].u);
        CHECK(cpu[i].v == gpu[i].v);
      }
    }
}
