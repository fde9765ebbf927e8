#include "codec/fused_adam.h"

#include <stdexcept>

namespace nvc {

FusedAdam::FusedAdam(std::vector<Group> groups, double beta1, double beta2, double eps)
    : groups_(std::move(groups)), state_(groups_.size()), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].params.empty()) continue;
    const auto dev = groups_[g].params.front().device();
    for (const auto& p : groups_[g].params) {
      if (p.device() != dev) throw std::invalid_argument("FusedAdam: a group's parameters must share one device");
      if (p.scalar_type() != torch::kFloat32) throw std::invalid_argument("FusedAdam: parameters must be float32");
    }
    state_[g].lr = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(dev));
  }
}

void FusedAdam::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g)
    if (state_[g].lr.defined()) state_[g].lr.fill_(lr * groups_[g].lr_scale);
}

void FusedAdam::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad().zero_();
}

void FusedAdam::init_state() {
  // State for every parameter, gradient or not, so the tensor lists of a step are the same objects every time.
  // zeros_like keeps each parameter's memory format (channels_last weights get channels_last moments).
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const auto& p : groups_[g].params) {
      state_[g].exp_avg.push_back(torch::zeros_like(p));
      state_[g].exp_avg_sq.push_back(torch::zeros_like(p));
      state_[g].steps.push_back(torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(p.device())));
    }
  }
  initialised_ = true;
}

void FusedAdam::step() {
  torch::NoGradGuard no_grad;
  if (!initialised_) init_state();
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::vector<torch::Tensor> params, grads, m, v, steps;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const auto& p = groups_[g].params[i];
      if (!p.grad().defined()) continue;
      if (p.grad().is_sparse()) throw std::invalid_argument("FusedAdam: sparse gradients are not supported");
      params.push_back(p);
      grads.push_back(p.grad());
      m.push_back(state_[g].exp_avg[i]);
      v.push_back(state_[g].exp_avg_sq[i]);
      steps.push_back(state_[g].steps[i]);
    }
    if (params.empty()) continue;
    // The kernel reads the step count after the caller has advanced it (as torch.optim.Adam(fused=True) does).
    at::_foreach_add_(steps, 1.0);
    at::_fused_adam_(params, grads, m, v, /*max_exp_avg_sqs=*/{}, steps, state_[g].lr, beta1_, beta2_,
                     /*weight_decay=*/0.0, eps_, /*amsgrad=*/false, /*maximize=*/false);
  }
}

}  // namespace nvc
