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

int64_t fit_steps(int64_t frames, int batch, int epochs) {
  const int64_t b = std::clamp<int64_t>(batch, 1, std::max<int64_t>(1, frames));
  return (frames + b - 1) / b * std::max(1, epochs);
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

  // Two groups: the time-conditioning paths (temporal MLP, AdaIN projections, augmentation MLP) learn at
  // opt.temporal_lr_scale of the peak rate. Measured on the 192x144 clip: at the convolutions' 1e-2 they make the
  // whole network oscillate (PSNR 18.6 dB after 20 epochs vs 27.4 dB with everything at 3e-3).
  std::vector<torch::Tensor> main_params, temporal_params;
  auto is_temporal = [](const std::string& name) {
    return name.find("modulation") != std::string::npos || name.find("temporal_mlp") != std::string::npos ||
           name.find("augmentation") != std::string::npos;
  };
  for (auto& p : decoder->named_parameters()) (is_temporal(p.key()) ? temporal_params : main_params).push_back(p.value());
  for (auto& p : encoder->named_parameters()) (is_temporal(p.key()) ? temporal_params : main_params).push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<double> group_lr_scale;  // of each group, relative to the scheduled rate
  auto adam = [&](double lr) { return torch::optim::AdamOptions(lr).betas({0.9, opt.adam_beta2}); };
  groups.emplace_back(main_params, std::make_unique<torch::optim::AdamOptions>(adam(opt.lr)));
  group_lr_scale.push_back(1.0);
  if (!temporal_params.empty()) {
    groups.emplace_back(temporal_params,
                        std::make_unique<torch::optim::AdamOptions>(adam(opt.lr * opt.temporal_lr_scale)));
    group_lr_scale.push_back(opt.temporal_lr_scale);
  }
  torch::optim::Adam optim(groups, adam(opt.lr));

  const int64_t batch = std::clamp<int64_t>(opt.batch, 1, T);
  const int64_t steps_per_epoch = (T + batch - 1) / batch;
  const int64_t total = steps_per_epoch * std::max(1, opt.epochs);
  FitResult result;
  double report_loss = 0, epoch_loss = 0;
  int64_t report_n = 0, epoch_n = 0, step = 0;
  auto last_report = Clock::now();

  // Flow-guided decoding: the latest independent frame of every frame, detached (half precision on a GPU: at
  // 1080p x 600 frames the buffer is 7.5 GB instead of 15).
  torch::Tensor buffer, filled, window;
  if (cfg.flow) {
    const auto dtype = opt.device.is_cuda() ? torch::kFloat16 : torch::kFloat32;
    buffer = torch::zeros({T, 3, CH, CW}, torch::TensorOptions().dtype(dtype).device(opt.device));
    filled = torch::zeros({T}, torch::TensorOptions().dtype(torch::kBool).device(opt.device));
    window = torch::tensor(std::vector<int64_t>(std::begin(TNervConfig::kWindow), std::end(TNervConfig::kWindow)),
                           torch::TensorOptions().dtype(torch::kLong)).to(opt.device);
  }
  auto crop = [&](const torch::Tensor& x) { return x.narrow(2, 0, H).narrow(3, 0, W); };
  const float tau_den = float(std::max<int64_t>(1, T - 1));
  if (cfg.flow && opt.prefill_neighbours) {
    torch::NoGradGuard no_grad;
    for (int64_t s = 0; s < T; s += batch) {
      const int64_t n = std::min(batch, T - s);
      torch::Tensor idx = torch::arange(s, s + n, torch::TensorOptions().dtype(torch::kLong).device(opt.device));
      torch::Tensor tau = idx.to(torch::kFloat32) / tau_den;
      torch::Tensor emb, tcode;
      if (cfg.emb_channels > 0) emb = encoder->embed(pad_to(frames.narrow(0, s, n), CH, CW), tau);
      if (cfg.tcode_dim > 0) tcode = encoder->temporal_code(tau);
      buffer.index_copy_(0, idx, decoder->pass(emb, tau, tcode).independent.to(buffer.dtype()));
    }
    filled.fill_(true);
  }
  CompressionAwareStep* comp = opt.compression;

  for (int epoch = 0; epoch < opt.epochs && !result.stopped_early; ++epoch) {
    torch::Tensor order = torch::randperm(T, torch::TensorOptions().dtype(torch::kLong));
    epoch_loss = 0;
    epoch_n = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      if (opt.should_stop && opt.should_stop()) {
        result.stopped_early = true;
        break;
      }
      const double lr = scheduled_lr(opt, opt.schedule_offset + step, opt.schedule_total > 0 ? opt.schedule_total : total);
      for (size_t g = 0; g < optim.param_groups().size(); ++g)
        static_cast<torch::optim::AdamOptions&>(optim.param_groups()[g].options()).lr(lr * group_lr_scale[g]);

      torch::Tensor idx = order.narrow(0, b * batch, std::min(batch, T - b * batch)).to(opt.device);
      torch::Tensor target = frames.index_select(0, idx);
      torch::Tensor tau = idx.to(torch::kFloat32) / tau_den;
      if (comp) comp->begin_step();
      torch::Tensor emb, tcode;
      if (cfg.emb_channels > 0) emb = encoder->embed(pad_to(target, CH, CW), tau);
      if (cfg.tcode_dim > 0) tcode = encoder->temporal_code(tau);
      if (comp && emb.defined()) emb = comp->embeddings(emb);
      if (comp && tcode.defined()) tcode = comp->temporal_codes(tcode);
      TNervPass pass = decoder->pass(emb, tau, tcode);
      torch::Tensor mse, loss;  // mse: of the decoded output, what the progress line reports
      if (cfg.flow) {
        const auto nb = idx.unsqueeze(1) + window.unsqueeze(0);  // [B, 4]
        const auto inside = (nb >= 0) & (nb < T);
        const auto nb_clamped = nb.clamp(0, T - 1);
        const auto valid = inside & filled.index_select(0, nb_clamped.flatten()).view_as(nb);
        const auto neighbours =
            buffer.index_select(0, nb_clamped.flatten()).to(torch::kFloat32).view({nb.size(0), 4, 3, CH, CW});
        TNervAggregate agg = decoder->aggregate(pass, neighbours, valid);
        mse = F::mse_loss(crop(agg.output), target);
        // Per-frame MSE of the aggregated neighbours, counted only where a neighbour exists.
        const auto agg_err = (crop(agg.aggregated) - target).square().mean({1, 2, 3});
        const auto has = agg.any_neighbour.to(torch::kFloat32);
        const auto agg_loss = (agg_err * has).sum() / has.sum().clamp_min(1.0);
        loss = mse + 0.1 * (F::mse_loss(crop(pass.independent), target) + agg_loss);
        torch::NoGradGuard no_grad;
        buffer.index_copy_(0, idx, pass.independent.detach().to(buffer.dtype()));
        filled.index_fill_(0, idx, true);
      } else {
        mse = F::mse_loss(crop(pass.independent), target);
        loss = mse;
      }
      if (comp) {
        const torch::Tensor rate = comp->rate_loss(idx.size(0));
        if (rate.defined()) loss = loss + rate;
      }
      optim.zero_grad();
      loss.backward();
      if (comp) comp->before_optimizer_step();
      optim.step();
      if (comp) comp->end_step();

      const double l = mse.item<double>();
      report_loss += l;
      epoch_loss += l;
      ++report_n;
      ++epoch_n;
      const auto now = Clock::now();
      const double since = std::chrono::duration<double>(now - last_report).count();
      if (opt.on_progress && (since >= opt.report_interval_s || step + 1 == total)) {
        FitProgress p;
        p.stage = opt.stage;
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

  // What is stored per frame: the encoder's embedding (with augmentation) and the temporal code.
  {
    torch::NoGradGuard no_grad;
    encoder->eval();
    decoder->eval();
    const auto all_tau = torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(opt.device)) /
                         float(std::max<int64_t>(1, T - 1));
    if (cfg.emb_channels > 0) {
      std::vector<torch::Tensor> embs;
      for (int64_t s = 0; s < T; s += batch) {
        const int64_t n = std::min(batch, T - s);
        embs.push_back(encoder->embed(pad_to(frames.narrow(0, s, n), CH, CW), all_tau.narrow(0, s, n))
                           .to(torch::kCPU));
      }
      result.embeddings = torch::cat(embs, 0).contiguous();
    }
    if (cfg.tcode_dim > 0) result.temporal_codes = encoder->temporal_code(all_tau).to(torch::kCPU).contiguous();
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace nvc
