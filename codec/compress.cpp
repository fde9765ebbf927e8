#include "codec/compress.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace nvc {

namespace bs = bitstream;

TensorQuant decoder_param_quant(const std::string& name, const torch::Tensor& t, double weight_bits,
                                double embedding_bits) {
  TensorQuant q;
  if (name.rfind("grid", 0) == 0) {
    q.kind = TensorQuant::Asymmetric;
    q.bits = embedding_bits;
    q.axis = 1;
    q.component = bs::Component::Grids;
  } else if (t.dim() <= 1) {
    q.kind = TensorQuant::SymmetricPerTensor;
    q.bits = weight_bits + 2;
  } else {
    q.kind = TensorQuant::SymmetricPerChannel;
    q.bits = weight_bits;
  }
  return q;
}

TensorQuant embedding_quant(double embedding_bits) {
  TensorQuant q;
  q.kind = TensorQuant::Asymmetric;
  q.bits = embedding_bits;
  q.axis = 1;
  q.component = bs::Component::Embeddings;
  return q;
}

TensorQuant temporal_code_quant(double weight_bits) {
  TensorQuant q = embedding_quant(weight_bits);
  return q;
}

QuantGrid quant_grid(const torch::Tensor& t, const TensorQuant& q) {
  torch::NoGradGuard no_grad;
  const int axis = q.kind == TensorQuant::Asymmetric ? q.axis
                   : (q.kind == TensorQuant::SymmetricPerChannel && t.dim() >= 2) ? 0
                                                                                  : -1;
  // Reductions in the tensor's own type and place (no full-size copy: this runs every fine-tuning step), then the
  // per-channel arithmetic in float64 as quantize.cpp does it.
  const torch::Tensor x = t.detach();
  const torch::Tensor flat = axis < 0 ? x.reshape({1, -1}) : x.movedim(axis, 0).reshape({x.size(axis), -1});
  torch::Tensor raw_step, mid;
  if (q.kind == TensorQuant::Asymmetric) {
    const torch::Tensor lo = flat.amin(1).to(torch::kFloat64), hi = flat.amax(1).to(torch::kFloat64);
    const double levels = std::max(1.0, std::pow(2.0, q.bits) - 1.0);
    // quantize.cpp: a zero point beyond 2^stored_bits - 2 is not allowed, a coarser step keeps it legal.
    const int stored_bits = std::clamp(int(std::ceil(q.bits)) + 1, 1, 16);
    const double zp_limit = std::ldexp(1.0, stored_bits) - 2.0;
    raw_step = torch::maximum((hi - lo) / levels, (lo + hi).abs() * 0.5 / zp_limit);
    mid = (lo + hi) * 0.5;
  } else {
    const double half_levels = std::max(1.0, (std::pow(2.0, q.bits) - 1.0) / 2.0);
    raw_step = flat.abs().amax(1).to(torch::kFloat64) / half_levels;
  }
  // Round up to 2^(k/16), k in [-2048, 2047]; an all-zero channel gets 2^-64 as in quantize.cpp.
  torch::Tensor code = torch::ceil(16.0 * torch::log2(raw_step) - 1e-9).clamp(-2048, 2047);
  code = torch::where(raw_step > 0, code, torch::full_like(code, -1024.0));
  torch::Tensor step = torch::exp2(code / 16.0);
  torch::Tensor centre = mid.defined() ? torch::round(mid / step) * step : torch::zeros_like(step);
  std::vector<int64_t> shape(size_t(std::max<int64_t>(1, t.dim())), 1);
  if (axis >= 0) shape[size_t(axis)] = t.size(axis);
  if (t.dim() == 0) shape.clear();
  QuantGrid g;
  g.step = step.reshape(shape).to(t.scalar_type());
  g.centre = centre.reshape(shape).to(t.scalar_type());
  return g;
}

torch::Tensor fake_quantize(const torch::Tensor& t, const QuantGrid& g) { return torch::round(t / g.step) * g.step; }

torch::Tensor laplace_bits(const torch::Tensor& y) {
  if (y.numel() == 0) return torch::zeros({}, y.options());
  const torch::Tensor a = y.abs();
  // Floor on the scale: a tensor that is almost all zeros must not make its few non-zeros infinitely expensive
  // (the adaptive coder's probabilities are bounded too).
  const torch::Tensor b = a.mean().detach().clamp_min(0.1);
  // |y| >= 1/2: log P = log(1/2) - (|y| - 1/2) / b + log(1 - e^(-1/b)), exact and stable for any |y|.
  const torch::Tensor tail = std::log(0.5) - (a - 0.5) / b + torch::log1p(-torch::exp(-1.0 / b));
  // |y| < 1/2: P = 1 - (e^(-(1/2 - |y|)/b) + e^(-(1/2 + |y|)/b)) / 2.
  const torch::Tensor ac = a.clamp_max(0.5);
  const torch::Tensor centre =
      torch::log((1.0 - 0.5 * (torch::exp(-(0.5 - ac) / b) + torch::exp(-(0.5 + ac) / b))).clamp_min(1e-12));
  return -torch::where(a >= 0.5, tail, centre).sum() / std::log(2.0);
}

namespace {

bool prunable(const std::string& name, const torch::Tensor& p) { return p.dim() >= 2 && name.rfind("grid", 0) != 0; }

}  // namespace

PruneMasks prune_decoder(TNervDecoder& decoder, double fraction) {
  if (!(fraction >= 0) || fraction >= 1) throw std::invalid_argument("pruning fraction must be in [0, 1)");
  torch::NoGradGuard no_grad;
  std::vector<std::pair<std::string, torch::Tensor>> weights;
  std::vector<torch::Tensor> scores;
  for (auto& p : decoder->named_parameters(true))
    if (prunable(p.key(), p.value())) {
      weights.emplace_back(p.key(), p.value());
      scores.push_back((p.value().detach().abs() / std::sqrt(double(p.value().numel()))).flatten().to(torch::kCPU));
    }
  PruneMasks masks;
  if (weights.empty()) return masks;
  const torch::Tensor all = torch::cat(scores);
  const int64_t k = int64_t(std::floor(fraction * double(all.numel())));
  // Everything at or below the k-th smallest score goes (k == 0: nothing).
  const double threshold = k > 0 ? std::get<0>(all.kthvalue(k)).item<double>() : -1.0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const torch::Tensor& w = weights[i].second;
    masks[weights[i].first] = (w.detach().abs() / std::sqrt(double(w.numel()))) > threshold;
  }
  apply_masks(decoder, masks);
  return masks;
}

void apply_masks(TNervDecoder& decoder, const PruneMasks& masks) {
  torch::NoGradGuard no_grad;
  for (auto& p : decoder->named_parameters(true)) {
    auto it = masks.find(p.key());
    if (it != masks.end()) p.value().mul_(it->second.to(p.value().device(), p.value().scalar_type()));
  }
}

CompressionAwareStep::CompressionAwareStep(TNervDecoder& decoder, Options opt) : decoder_(decoder), opt_(std::move(opt)) {
  for (auto& p : decoder_->named_parameters(true)) {
    params_.emplace_back(p.key(), p.value());
    quant_.push_back(decoder_param_quant(p.key(), p.value(), opt_.weight_bits, opt_.embedding_bits));
    // Masks as factors of the parameter's type and place, made once instead of converted every step.
    torch::Tensor factor;
    if (opt_.masks) {
      auto it = opt_.masks->find(p.key());
      if (it != opt_.masks->end()) factor = it->second.to(p.value().device(), p.value().scalar_type());
    }
    mask_factors_.push_back(factor);
  }
  masters_.resize(params_.size());
  grids_.resize(params_.size());
  const torch::Device device = params_.empty() ? torch::Device(torch::kCPU) : params_[0].second.device();
  auto to_device = [&](const QuantGrid& g) { return QuantGrid{g.step.to(device), g.centre.to(device)}; };
  if (opt_.all_embeddings.defined())
    emb_grid_ = to_device(quant_grid(opt_.all_embeddings, embedding_quant(opt_.embedding_bits)));
  if (opt_.all_temporal_codes.defined())
    tcode_grid_ = to_device(quant_grid(opt_.all_temporal_codes, temporal_code_quant(opt_.weight_bits)));
}

void CompressionAwareStep::begin_step() {
  frame_rate_bits_ = torch::Tensor();
  if (!opt_.fake_quant && !(opt_.lambda > 0)) return;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i].second;
    // The steps the packer would choose for the float values; the rate term measures on the same grid.
    grids_[i] = quant_grid(p, quant_[i]);
    if (!opt_.fake_quant) continue;
    masters_[i] = p.detach().clone();
    p.copy_(fake_quantize(p, grids_[i]));
  }
}

namespace {

// Fake quantization with a straight-through gradient (identity in the backward pass).
torch::Tensor straight_through(const torch::Tensor& x, const QuantGrid& g) {
  return x + (fake_quantize(x.detach(), g) - x.detach());
}

QuantGrid on_device(const QuantGrid& g, const torch::Tensor& like) {
  return {g.step.to(like.device(), like.scalar_type()), g.centre.to(like.device(), like.scalar_type())};
}

}  // namespace

torch::Tensor CompressionAwareStep::per_frame_data(const torch::Tensor& x, const QuantGrid& grid) {
  if (!grid.step.defined()) return x;
  const QuantGrid g = on_device(grid, x);
  const torch::Tensor out = opt_.fake_quant ? straight_through(x, g) : x;
  if (opt_.lambda > 0) {
    const torch::Tensor bits = laplace_bits((out - g.centre) / g.step);
    frame_rate_bits_ = frame_rate_bits_.defined() ? frame_rate_bits_ + bits : bits;
  }
  return out;
}

torch::Tensor CompressionAwareStep::embeddings(const torch::Tensor& e) { return per_frame_data(e, emb_grid_); }

torch::Tensor CompressionAwareStep::temporal_codes(const torch::Tensor& c) { return per_frame_data(c, tcode_grid_); }

torch::Tensor CompressionAwareStep::rate_loss(int64_t batch_frames) {
  if (!(opt_.lambda > 0)) return {};
  torch::Tensor bits;
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i].second;
    const QuantGrid& g = grids_[i];
    const torch::Tensor b = laplace_bits((p - g.centre) / g.step);
    bits = bits.defined() ? bits + b : b;
  }
  if (frame_rate_bits_.defined())
    bits = bits + frame_rate_bits_ * (double(opt_.frames) / double(std::max<int64_t>(1, batch_frames)));
  last_bits_ = bits.detach();  // read only on request: .item() here would stall a GPU every step
  return bits * (opt_.lambda / opt_.pixels);
}

void CompressionAwareStep::before_optimizer_step() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i].second;
    if (opt_.fake_quant) p.copy_(masters_[i]);
    if (mask_factors_[i].defined() && p.grad().defined()) p.grad().mul_(mask_factors_[i]);
  }
}

void CompressionAwareStep::end_step() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    if (mask_factors_[i].defined()) params_[i].second.mul_(mask_factors_[i]);
}

}  // namespace nvc
