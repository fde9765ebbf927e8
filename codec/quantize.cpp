#include "codec/quantize.h"

#include <algorithm>
#include <cmath>

namespace nvc {

namespace bs = bitstream;

namespace {

constexpr int kZeroScaleCode = -1024;  // scale 2^-64 for channels that are all zero

int32_t scale_code_for_step(double step) {
  if (!(step > 0) || !std::isfinite(step)) return kZeroScaleCode;
  int32_t code = int32_t(std::ceil(16.0 * std::log2(step) - 1e-9));
  code = std::clamp(code, -2048, 2047);
  // Guard against log2 rounding: the stored scale must not be below the step (that would clip).
  while (code < 2047 && bs::scale_from_code(code) < step) ++code;
  return code;
}

// [channels, elements per channel] view of t with the channel axis first, on the CPU in float64.
torch::Tensor channel_major(const torch::Tensor& t, int axis) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64);
  if (axis < 0) return c.reshape({1, -1});
  return c.movedim(axis, 0).reshape({c.size(axis), -1}).contiguous();
}

// Writes q back in the record's memory order (the original layout of t).
std::vector<int32_t> to_memory_order(const torch::Tensor& q_channel_major, const torch::Tensor& t, int axis) {
  torch::Tensor q = q_channel_major;
  if (axis >= 0) {
    std::vector<int64_t> moved = t.sizes().vec();
    const int64_t c = moved[size_t(axis)];
    moved.erase(moved.begin() + axis);
    moved.insert(moved.begin(), c);
    q = q.reshape(moved).movedim(0, axis);
  }
  q = q.contiguous().to(torch::kInt32).reshape({-1});
  return std::vector<int32_t>(q.data_ptr<int32_t>(), q.data_ptr<int32_t>() + q.numel());
}

bs::TensorRecord make_record(const torch::Tensor& t, double bits, int axis, bs::Component component) {
  bs::TensorRecord rec;
  rec.component = component;
  for (int64_t d : t.sizes()) rec.shape.push_back(uint32_t(d));
  rec.coder = bs::Coder::Cabac;
  rec.bits = uint8_t(std::clamp(int(std::ceil(bits)) + 1, 1, 16));
  rec.axis = int8_t(axis);
  return rec;
}

}  // namespace

bs::TensorRecord quantize_symmetric(const torch::Tensor& t, double bits, bs::Component component, bool per_channel) {
  const int axis = (per_channel && t.dim() >= 2) ? 0 : -1;
  bs::TensorRecord rec = make_record(t, bits, axis, component);
  torch::Tensor x = channel_major(t, axis);
  torch::Tensor maxabs = x.abs().amax(1);
  const double half_levels = std::max(1.0, (std::pow(2.0, bits) - 1.0) / 2.0);
  torch::Tensor scales = torch::empty({x.size(0)}, torch::kFloat64);
  for (int64_t c = 0; c < x.size(0); ++c) {
    const int32_t code = scale_code_for_step(maxabs[c].item<double>() / half_levels);
    rec.scale_code.push_back(code);
    scales[c] = double(bs::scale_from_code(code));
  }
  torch::Tensor q = torch::round(x / scales.unsqueeze(1));
  bs::encode_tensor_ints(rec, to_memory_order(q, t, axis).data(), size_t(t.numel()));
  return rec;
}

bs::TensorRecord quantize_asymmetric(const torch::Tensor& t, double bits, int axis, bs::Component component) {
  bs::TensorRecord rec = make_record(t, bits, axis, component);
  torch::Tensor x = channel_major(t, axis);
  torch::Tensor lo = std::get<0>(x.min(1)), hi = std::get<0>(x.max(1));
  const double levels = std::max(1.0, std::pow(2.0, bits) - 1.0);
  torch::Tensor scales = torch::empty({x.size(0)}, torch::kFloat64);
  torch::Tensor zps = torch::empty({x.size(0)}, torch::kFloat64);
  for (int64_t c = 0; c < x.size(0); ++c) {
    const double l = lo[c].item<double>(), h = hi[c].item<double>();
    // A channel far from zero relative to its range would need a zero point beyond what the format allows
    // (|zp| <= 2^bits); a coarser step keeps it legal.
    const double zp_limit = std::ldexp(1.0, rec.bits) - 2.0;
    const double step = std::max((h - l) / levels, std::fabs(l + h) * 0.5 / zp_limit);
    const int32_t code = scale_code_for_step(step);
    const double s = double(bs::scale_from_code(code));
    const int32_t zp = int32_t(std::lround((l + h) * 0.5 / s));
    rec.scale_code.push_back(code);
    rec.zero_point.push_back(zp);
    scales[c] = s;
    zps[c] = double(zp);
  }
  torch::Tensor q = torch::round(x / scales.unsqueeze(1)) - zps.unsqueeze(1);
  bs::encode_tensor_ints(rec, to_memory_order(q, t, axis).data(), size_t(t.numel()));
  return rec;
}

bs::TensorRecord quantize_tensor(const torch::Tensor& t, const TensorQuant& q) {
  switch (q.kind) {
    case TensorQuant::SymmetricPerChannel: return quantize_symmetric(t, q.bits, q.component, /*per_channel=*/true);
    case TensorQuant::SymmetricPerTensor: return quantize_symmetric(t, q.bits, q.component, /*per_channel=*/false);
    case TensorQuant::Asymmetric: break;
  }
  return quantize_asymmetric(t, q.bits, q.axis, q.component);
}

}  // namespace nvc
