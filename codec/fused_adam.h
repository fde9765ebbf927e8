// Adam for the fast fitting path: one fused ATen kernel per parameter group (at::_fused_adam_) instead of the ~10
// element-wise kernels per tensor of torch::optim::Adam, with every piece of state on the parameters' device so a
// step never waits on the host and can be captured in a CUDA graph (fitting only).
#pragma once
#include <vector>

#include <torch/torch.h>

namespace nvc {

class FusedAdam {
 public:
  struct Group {
    std::vector<torch::Tensor> params;
    double lr_scale = 1.0;  // this group's rate relative to set_lr's
  };
  FusedAdam(std::vector<Group> groups, double beta1, double beta2, double eps = 1e-8);

  // The scheduled rate; each group gets lr * lr_scale. Writes device scalars (no host sync, graph-safe: a captured
  // step reads the rate from memory at replay).
  void set_lr(double lr);
  // Zeroes the gradients in place (the tensors stay where they are, as a CUDA graph needs).
  void zero_grad();
  // Same update as torch::optim::Adam (no weight decay, no amsgrad). Parameters without a gradient are skipped, as
  // torch::optim::Adam does; the first step creates the state.
  void step();

  const std::vector<Group>& groups() const { return groups_; }

 private:
  struct State {
    std::vector<torch::Tensor> exp_avg, exp_avg_sq, steps;
    torch::Tensor lr;  // 0-dim float on the group's device
  };
  void init_state();
  std::vector<Group> groups_;
  std::vector<State> state_;
  double beta1_, beta2_, eps_;
  bool initialised_ = false;
};

}  // namespace nvc
