#include "codec/nvp_fit.h"

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace nvc {

using Clock = std::chrono::steady_clock;

NvpFitResult fit_nvp(NvpModel& model, const torch::Tensor& frames_in, const NvpFitOptions& opt) {
  const auto& cfg = model->cfg;
  if (frames_in.dim() != 4 || frames_in.size(1) != 3)
    throw std::invalid_argument("fit_nvp: frames must be [T, 3, H, W]");
  const int64_t T = frames_in.size(0), H = frames_in.size(2), W = frames_in.size(3);
  if (T != cfg.frames || H != cfg.height || W != cfg.width)
    throw std::invalid_argument("fit_nvp: the frames are " + std::to_string(W) + "x" + std::to_string(H) + "x" +
                                std::to_string(T) + ", the model is for " + std::to_string(cfg.width) + "x" +
                                std::to_string(cfg.height) + "x" + std::to_string(cfg.frames));
  if (opt.iterations < 1 || opt.batch_pixels < 1 || !(opt.time_budget_s >= 0))
    throw std::invalid_argument("fit_nvp: nothing to do");
  torch::manual_seed(opt.seed);
  const torch::Device dev = opt.device;
  const auto t0 = Clock::now();
  model->to(dev);
  model->train();
  // Pixels as rows [T*H*W, 3], so a batch is one index_select; fp16 on a GPU (exact to 2^-11 in [0, 1]).
  const torch::Tensor pixels = frames_in.permute({0, 2, 3, 1})
                                   .reshape({T * H * W, 3})
                                   .to(dev, dev.is_cuda() ? torch::kFloat16 : torch::kFloat32)
                                   .contiguous();
  torch::optim::AdamW optim(model->parameters(),
                            torch::optim::AdamWOptions(opt.lr).weight_decay(opt.weight_decay));
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(dev);
  torch::Tensor report_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(dev));
  int64_t report_n = 0;
  NvpFitResult result;
  double last_mse = 1.0;
  auto last_report = Clock::now();
  int64_t step = 0;
  for (; step < opt.iterations; ++step) {
    if (opt.should_stop && opt.should_stop()) {
      result.stopped_early = true;
      break;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    if (opt.time_budget_s > 0 && elapsed >= opt.time_budget_s) break;
    const double p = opt.time_budget_s > 0 ? elapsed / opt.time_budget_s
                                           : double(step) / double(std::max<int64_t>(1, opt.iterations - 1));
    const double lr = opt.final_lr + 0.5 * (opt.lr - opt.final_lr) * (1.0 + std::cos(M_PI * p));
    for (auto& g : optim.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

    // Uniform (frame, row, column) triples, drawn on the device.
    const torch::Tensor index = torch::randint(T * H * W, {opt.batch_pixels}, lopt);
    const torch::Tensor frame = index.div(H * W, "floor");
    const torch::Tensor rest = index.remainder(H * W);
    const torch::Tensor row = rest.div(W, "floor"), col = rest.remainder(W);
    const torch::Tensor xyt = nvp_pixel_coords(frame, row, col, int(W), int(H), int(T));
    const torch::Tensor target = pixels.index_select(0, index).to(torch::kFloat32) * 2.0 - 1.0;
    const torch::Tensor loss = torch::mse_loss(model->forward(xyt), target);
    optim.zero_grad();
    loss.backward();
    optim.step();
    {
      torch::NoGradGuard no_grad;
      report_sum.add_(loss.detach());
    }
    ++report_n;
    const auto now = Clock::now();
    const bool last = step + 1 == opt.iterations;
    if (last || std::chrono::duration<double>(now - last_report).count() >= opt.report_interval_s) {
      // One host read per report (not per step). MSE of [-1, 1] values is 4x that of [0, 1] ones.
      last_mse = report_sum.item<double>() / double(report_n) / 4.0;
      report_sum.zero_();
      report_n = 0;
      last_report = now;
      if (opt.on_progress) {
        FitProgress fp;
        fp.stage = "nvp";
        fp.step = step + 1;
        fp.total_steps = opt.iterations;
        fp.epoch = 1;
        fp.epochs = 1;
        fp.loss = last_mse;
        fp.psnr = last_mse > 0 ? -10.0 * std::log10(last_mse) : 100.0;
        fp.elapsed_s = std::chrono::duration<double>(now - t0).count();
        fp.steps_per_s = double(step + 1) / std::max(1e-9, fp.elapsed_s);
        if (opt.time_budget_s > 0)  // an estimate: the steps the time budget will have held at this rate
          fp.total_steps = std::max<int64_t>(step + 1, int64_t(fp.steps_per_s * opt.time_budget_s));
        fp.eta_s = opt.time_budget_s > 0 ? std::max(0.0, opt.time_budget_s - fp.elapsed_s)
                                         : double(opt.iterations - step - 1) / std::max(1e-9, fp.steps_per_s);
        opt.on_progress(fp);
      }
    }
  }
  if (report_n > 0) last_mse = report_sum.item<double>() / double(report_n) / 4.0;
  model->eval();
  result.steps = step;
  result.final_psnr = last_mse > 0 ? -10.0 * std::log10(last_mse) : 100.0;
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace nvc
