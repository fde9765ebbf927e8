#include "codec/fit.h"

#include <chrono>
#include <cmath>

namespace nvc {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

double scheduled_lr(const FitOptions& opt, int64_t step, int64_t total) {
  const double warm = std::max<double>(1.0, opt.warmup_fraction * double(total));
  if (double(step) < warm) return opt.lr * (0.1 + 0.9 * double(step) / warm);
  const double p = std::clamp((double(step) - warm) / std::max(1.0, double(total) - warm), 0.0, 1.0);
  const double lo = opt.lr * opt.final_lr_fraction;
  return lo + 0.5 * (opt.lr - lo) * (1.0 + std::cos(M_PI * p));
}

namespace {

torch::Tensor pad_to(const torch::Tensor& x, int64_t h, int64_t w) {
  const int64_t ph = h - x.size(2), pw = w - x.size(3);
  if (ph == 0 && pw == 0) return x;
  return F::pad(x, F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate));
}

double psnr_of(double mse) { return mse > 0 ? -10.0 * std::log10(mse) : 100.0; }

}  // namespace

FitResult fit_tnerv(TNervDecoder& decoder, TNervEncoder& encoder, const torch::Tensor& frames_in,
                    const FitOptions& opt) {
  torch::manual_seed(opt.seed);
  const auto& cfg = decoder->cfg;
  const int64_t T = frames_in.size(0), H = frames_in.size(2), W = frames_in.size(3);
  const int64_t CH = cfg.coded_height(), CW = cfg.coded_width();
  const auto t0 = Clock::now();

  decoder->to(opt.device);
  encoder->to(opt.device);
  decoder->train();
  encoder->train();
  torch::Tensor frames = frames_in.to(opt.device, torch::kFloat32);

  std::vector<torch::Tensor> params = decoder->parameters();
  for (auto& p : encoder->parameters()) params.push_back(p);
  torch::optim::Adam optim(params, torch::optim::AdamOptions(opt.lr).betas({0.9, 0.999}));

  const int64_t batch = std::clamp<int64_t>(opt.batch, 1, T);
  const int64_t steps_per_epoch = (T + batch - 1) / batch;
  const int64_t total = steps_per_epoch * std::max(1, opt.epochs);
  FitResult result;
  double report_loss = 0, epoch_loss = 0;
  int64_t report_n = 0, epoch_n = 0, step = 0;
  auto last_report = Clock::now();

  for (int epoch = 0; epoch < opt.epochs && !result.stopped_early; ++epoch) {
    torch::Tensor order = torch::randperm(T, torch::TensorOptions().dtype(torch::kLong));
    epoch_loss = 0;
    epoch_n = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      if (opt.should_stop && opt.should_stop()) {
        result.stopped_early = true;
        break;
      }
      const double lr = scheduled_lr(opt, step, total);
      for (auto& group : optim.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

      torch::Tensor idx = order.narrow(0, b * batch, std::min(batch, T - b * batch)).to(opt.device);
      torch::Tensor target = frames.index_select(0, idx);
      torch::Tensor tau = idx.to(torch::kFloat32) / float(std::max<int64_t>(1, T - 1));
      torch::Tensor emb = encoder->forward(pad_to(target, CH, CW));
      torch::Tensor out = decoder->forward(emb, tau).narrow(2, 0, H).narrow(3, 0, W);
      torch::Tensor loss = F::mse_loss(out, target);
      optim.zero_grad();
      loss.backward();
      optim.step();

      const double l = loss.item<double>();
      report_loss += l;
      epoch_loss += l;
      ++report_n;
      ++epoch_n;
      const auto now = Clock::now();
      const double since = std::chrono::duration<double>(now - last_report).count();
      if (opt.on_progress && (since >= opt.report_interval_s || step + 1 == total)) {
        FitProgress p;
        p.step = step + 1;
        p.total_steps = total;
        p.epoch = epoch + 1;
        p.epochs = opt.epochs;
        p.loss = report_loss / double(report_n);
        p.psnr = psnr_of(p.loss);
        p.elapsed_s = std::chrono::duration<double>(now - t0).count();
        p.steps_per_s = double(step + 1) / std::max(1e-9, p.elapsed_s);
        p.eta_s = double(total - step - 1) / std::max(1e-9, p.steps_per_s);
        opt.on_progress(p);
        report_loss = 0;
        report_n = 0;
        last_report = now;
      }
    }
  }
  result.steps = step;
  result.final_psnr = psnr_of(epoch_n ? epoch_loss / double(epoch_n) : 1.0);

  // The stored embeddings are the encoder's output for every frame.
  {
    torch::NoGradGuard no_grad;
    encoder->eval();
    decoder->eval();
    std::vector<torch::Tensor> embs;
    for (int64_t s = 0; s < T; s += batch)
      embs.push_back(encoder->forward(pad_to(frames.narrow(0, s, std::min(batch, T - s)), CH, CW)).to(torch::kCPU));
    result.embeddings = torch::cat(embs, 0).contiguous();
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace nvc
