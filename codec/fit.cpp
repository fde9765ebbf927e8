#include "codec/fit.h"

#include <chrono>
#include <cmath>

#include "codec/device.h"
#include "codec/fused_adam.h"

namespace nvc {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

FitSpeed FitSpeed::fast(const torch::Device& device) {
  FitSpeed s;
  s.fused_adam = true;      // fewer, larger kernels on any device (on the CPU: one pass over each tensor, not ten)
  s.async_progress = true;  // free on the CPU, and on a GPU the step never waits for the host
  if (device.is_cuda()) {
    // Tensor cores; bf16 keeps fp32's range, so no loss scaling is needed. Before Ampere bf16 is emulated: fp32.
    if (cuda_supports_bf16(device)) s.autocast = torch::kBFloat16;
    s.channels_last = true;
    s.half_frames = true;
    // CUDA graphs stay opt-in (nvenc --cuda-graphs) until they have been measured on a GPU: see docs/benchmarks.md.
  }
  return s;
}

std::string FitSpeed::describe() const {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ",";
    out += name;
  };
  add(autocast != torch::kFloat32, autocast == torch::kBFloat16 ? "bf16" : "fp16");
  add(channels_last, "channels_last");
  add(fused_adam, "fused_adam");
  add(async_progress, "async");
  add(half_frames, "half_frames");
  add(cuda_graphs, "graphs");
  return out.empty() ? "fp32 eager" : out;
}

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

bool is_temporal(const std::string& name) {
  return name.find("modulation") != std::string::npos || name.find("temporal_mlp") != std::string::npos ||
         name.find("augmentation") != std::string::npos;
}

// Gradients left over from an earlier stage may have another memory format than the parameters now have; the fused
// optimizer walks parameter, gradient and moments as flat arrays, so they must all share one layout.
void clear_grads(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.mutable_grad() = torch::Tensor();
}

// torch::optim::Adam (the reference) or FusedAdam behind one interface, with per-group rate scales.
class FitOptimizer {
 public:
  FitOptimizer(const std::vector<std::vector<torch::Tensor>>& groups, const std::vector<double>& scales, double lr,
               double beta2, bool fused)
      : scales_(scales) {
    if (fused) {
      std::vector<FusedAdam::Group> g;
      for (size_t i = 0; i < groups.size(); ++i) g.push_back({groups[i], scales[i]});
      fused_ = std::make_unique<FusedAdam>(std::move(g), 0.9, beta2);
      return;
    }
    std::vector<torch::optim::OptimizerParamGroup> g;
    auto adam = [&](double r) { return torch::optim::AdamOptions(r).betas({0.9, beta2}); };
    for (size_t i = 0; i < groups.size(); ++i)
      g.emplace_back(groups[i], std::make_unique<torch::optim::AdamOptions>(adam(lr * scales[i])));
    reference_ = std::make_unique<torch::optim::Adam>(g, adam(lr));
  }
  void set_lr(double lr) {
    if (fused_) return fused_->set_lr(lr);
    for (size_t g = 0; g < reference_->param_groups().size(); ++g)
      static_cast<torch::optim::AdamOptions&>(reference_->param_groups()[g].options()).lr(lr * scales_[g]);
  }
  void zero_grad() { fused_ ? fused_->zero_grad() : reference_->zero_grad(); }
  void step() { fused_ ? fused_->step() : (void)reference_->step(); }

 private:
  std::vector<double> scales_;
  std::unique_ptr<FusedAdam> fused_;
  std::unique_ptr<torch::optim::Adam> reference_;
};


}  // namespace

FitResult fit_tnerv(TNervDecoder& decoder, TNervEncoder& encoder, const torch::Tensor& frames_in,
                    const FitOptions& opt) {
  torch::manual_seed(opt.seed);
  const auto& cfg = decoder->cfg;
  const FitSpeed& speed = opt.speed;
  const torch::Device dev = opt.device;
  const int64_t T = frames_in.size(0), H = frames_in.size(2), W = frames_in.size(3);
  const int64_t CH = cfg.coded_height(), CW = cfg.coded_width();
  const auto t0 = Clock::now();

  decoder->to(dev);
  encoder->to(dev);
  clear_grads(*decoder);
  clear_grads(*encoder);
  if (speed.channels_last) {
    set_conv_memory_format(*decoder, torch::MemoryFormat::ChannelsLast);
    set_conv_memory_format(*encoder, torch::MemoryFormat::ChannelsLast);
  }
  decoder->train();
  encoder->train();
  // The whole video stays on the device. In fp16 a 1080p x 600-frame clip is 7.5 GB instead of 15: the frames are
  // exact to 2^-11 (RGB in [0, 1]), far below any fitted model's error.
  const torch::Tensor frames = frames_in.to(dev, speed.half_frames ? torch::kFloat16 : torch::kFloat32);

  // Two groups: the time-conditioning paths (temporal MLP, AdaIN projections, augmentation MLP) learn at
  // opt.temporal_lr_scale of the peak rate. Measured on the 192x144 clip: at the convolutions' 1e-2 they make the
  // whole network oscillate (PSNR 18.6 dB after 20 epochs vs 27.4 dB with everything at 3e-3).
  std::vector<std::vector<torch::Tensor>> groups(1);
  std::vector<double> group_lr_scale{1.0};
  std::vector<torch::Tensor> temporal_params;
  for (auto* m : {static_cast<torch::nn::Module*>(decoder.get()), static_cast<torch::nn::Module*>(encoder.get())})
    for (auto& p : m->named_parameters()) (is_temporal(p.key()) ? temporal_params : groups[0]).push_back(p.value());
  if (!temporal_params.empty()) {
    groups.push_back(temporal_params);
    group_lr_scale.push_back(opt.temporal_lr_scale);
  }
  FitOptimizer optim(groups, group_lr_scale, opt.lr, opt.adam_beta2, speed.fused_adam);

  const int64_t batch = std::clamp<int64_t>(opt.batch, 1, T);
  const int64_t steps_per_epoch = (T + batch - 1) / batch;
  const int64_t total = steps_per_epoch * std::max(1, opt.epochs);
  FitResult result;
  int64_t step = 0;

  // Flow-guided decoding: the latest independent frame of every frame, detached (half precision on a GPU: at
  // 1080p x 600 frames the buffer is 7.5 GB instead of 15).
  torch::Tensor buffer, filled, window;
  if (cfg.flow) {
    const auto dtype = dev.is_cuda() ? torch::kFloat16 : torch::kFloat32;
    buffer = torch::zeros({T, 3, CH, CW}, torch::TensorOptions().dtype(dtype).device(dev));
    filled = torch::zeros({T}, torch::TensorOptions().dtype(torch::kBool).device(dev));
    window = torch::tensor(std::vector<int64_t>(std::begin(TNervConfig::kWindow), std::end(TNervConfig::kWindow)),
                           torch::TensorOptions().dtype(torch::kLong)).to(dev);
  }
  auto crop = [&](const torch::Tensor& x) { return x.narrow(2, 0, H).narrow(3, 0, W); };
  auto frames_at = [&](const torch::Tensor& idx) { return frames.index_select(0, idx).to(torch::kFloat32); };
  const float tau_den = float(std::max<int64_t>(1, T - 1));
  if (cfg.flow && opt.prefill_neighbours) {
    torch::NoGradGuard no_grad;
    AutocastScope autocast(dev, speed.autocast);
    for (int64_t s = 0; s < T; s += batch) {
      const int64_t n = std::min(batch, T - s);
      torch::Tensor idx = torch::arange(s, s + n, torch::TensorOptions().dtype(torch::kLong).device(dev));
      torch::Tensor tau = idx.to(torch::kFloat32) / tau_den;
      torch::Tensor emb, tcode;
      if (cfg.emb_channels > 0) emb = encoder->embed(pad_to(frames_at(idx), CH, CW), tau);
      if (cfg.tcode_dim > 0) tcode = encoder->temporal_code(tau);
      buffer.index_copy_(0, idx, decoder->pass(emb, tau, tcode).independent.to(buffer.dtype()));
    }
    filled.fill_(true);
  }
  CompressionAwareStep* comp = opt.compression;

  // The training loss of the steps, summed where they run. With async_progress the sums stay on the device and are
  // copied to the host behind an event at each report, read once the copy has landed: the step itself never waits
  // for the GPU (the progress line lags by a fraction of a second). Otherwise every step reads its loss (.item()).
  const auto scalar_opts = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  torch::Tensor report_sum = torch::zeros({}, scalar_opts), epoch_sum = torch::zeros({}, scalar_opts);
  double report_host = 0, epoch_host = 0;
  int64_t report_n = 0, epoch_n = 0;

  // One training step on the frames in idx (a fixed-size device tensor when graphed). Everything in it is device
  // work: with cuda_graphs it is captured once and replayed.
  auto train_step = [&](const torch::Tensor& idx) {
    optim.zero_grad();
    torch::Tensor mse, loss;  // mse: of the decoded output, what the progress line reports
    {
      AutocastScope autocast(dev, speed.autocast);
      torch::Tensor target = frames_at(idx);
      torch::Tensor tau = idx.to(torch::kFloat32) / tau_den;
      if (comp) comp->begin_step();
      torch::Tensor emb, tcode;
      if (cfg.emb_channels > 0) emb = encoder->embed(pad_to(target, CH, CW), tau);
      if (cfg.tcode_dim > 0) tcode = encoder->temporal_code(tau);
      // Fake quantization and the rate model in float32 (under autocast emb and tcode come out of bf16 matmuls,
      // and bf16 cannot hold the packer's steps or integers above 256 exactly).
      if (comp && emb.defined()) emb = comp->embeddings(emb.to(torch::kFloat32));
      if (comp && tcode.defined()) tcode = comp->temporal_codes(tcode.to(torch::kFloat32));
      TNervPass pass = decoder->pass(emb, tau, tcode);
      if (cfg.flow) {
        const auto nb = idx.unsqueeze(1) + window.unsqueeze(0);  // [B, 4]
        const auto inside = (nb >= 0) & (nb < T);
        const auto nb_clamped = nb.clamp(0, T - 1);
        const auto valid = inside & filled.index_select(0, nb_clamped.flatten()).view_as(nb);
        // float32: grid_sample runs in float32 under autocast anyway (its grid is), so a bf16 copy would only
        // drop the buffer's fp16 mantissa bits.
        const auto neighbours = buffer.index_select(0, nb_clamped.flatten())
                                    .to(torch::kFloat32)
                                    .view({nb.size(0), 4, 3, CH, CW});
        TNervAggregate agg = decoder->aggregate(pass, neighbours, valid);
        mse = F::mse_loss(crop(agg.output).to(torch::kFloat32), target);
        // Per-frame MSE of the aggregated neighbours, counted only where a neighbour exists.
        const auto agg_err = (crop(agg.aggregated).to(torch::kFloat32) - target).square().mean({1, 2, 3});
        const auto has = agg.any_neighbour.to(torch::kFloat32);
        const auto agg_loss = (agg_err * has).sum() / has.sum().clamp_min(1.0);
        loss = mse + 0.1 * (F::mse_loss(crop(pass.independent).to(torch::kFloat32), target) + agg_loss);
        torch::NoGradGuard no_grad;
        buffer.index_copy_(0, idx, pass.independent.detach().to(buffer.dtype()));
        filled.index_fill_(0, idx, true);
      } else {
        mse = F::mse_loss(crop(pass.independent).to(torch::kFloat32), target);
        loss = mse;
      }
    }
    if (comp) {
      const torch::Tensor rate = comp->rate_loss(idx.size(0));
      if (rate.defined()) loss = loss + rate;
    }
    loss.backward();
    if (comp) comp->before_optimizer_step();
    optim.step();
    if (comp) comp->end_step();
    torch::NoGradGuard no_grad;
    if (speed.async_progress) {
      report_sum.add_(mse.detach());
      epoch_sum.add_(mse.detach());
    } else {
      const double l = mse.item<double>();
      report_host += l;
      epoch_host += l;
    }
  };

  // CUDA graphs: every step has the same shape (the last batch of an epoch overlaps the one before it instead of
  // being smaller) and reads its frame indices from one static tensor. Compression stages run eagerly (their
  // per-step work includes host-side bookkeeping).
  // (torch::optim::Adam keeps its rate and step count on the host: a captured step would freeze them.)
  const bool want_graph = speed.cuda_graphs && dev.is_cuda() && !comp && speed.async_progress && speed.fused_adam;
  if (speed.cuda_graphs && !want_graph)
    result.graph_fallback = !dev.is_cuda() ? "CUDA graphs need a CUDA device"
                            : comp         ? "not used in compression stages"
                                           : "CUDA graphs need fused Adam and async progress";
  CapturedStep graph;
  bool graph_failed = false;
  constexpr int64_t kEagerStepsBeforeCapture = 3;  // cuDNN autotuning and lazy allocations happen eagerly first
  torch::Tensor idx_static = torch::zeros({batch}, torch::TensorOptions().dtype(torch::kLong).device(dev));

  // Progress: with async_progress the report's sum is in flight behind `pending_event` until its copy lands.
  torch::Tensor pending_host = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32)
                                                    .pinned_memory(dev.is_cuda()));
  DeviceEvent pending_event;
  bool pending = false;
  FitProgress pending_progress;  // the report whose loss is in flight
  int64_t pending_n = 0;         // steps summed in it
  auto emit = [&](FitProgress p, double loss_sum, int64_t n) {
    if (!opt.on_progress || n <= 0) return;
    // Timed when the loss is known to be computed, not when the report was queued: with a GPU (and with graphs
    // especially) the host runs ahead of the device, and a queue-time clock would flatter the rate.
    p.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
    p.steps_per_s = double(p.step) / std::max(1e-9, p.elapsed_s);
    p.eta_s = double(p.total_steps - p.step) / std::max(1e-9, p.steps_per_s);
    p.loss = loss_sum / double(n);
    p.psnr = psnr_of(p.loss);
    opt.on_progress(p);
  };
  auto last_report = Clock::now();

  for (int epoch = 0; epoch < opt.epochs && !result.stopped_early; ++epoch) {
    const torch::Tensor order = speed.async_progress
                                    ? torch::randperm(T, torch::TensorOptions().dtype(torch::kLong).device(dev))
                                    : torch::randperm(T, torch::TensorOptions().dtype(torch::kLong)).to(dev);
    epoch_sum.zero_();
    epoch_host = 0;
    epoch_n = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      if (opt.should_stop && opt.should_stop()) {
        result.stopped_early = true;
        break;
      }
      optim.set_lr(scheduled_lr(opt, opt.schedule_offset + step,
                                opt.schedule_total > 0 ? opt.schedule_total : total));
      if (want_graph && !graph_failed) {
        idx_static.copy_(order.narrow(0, std::min(b * batch, T - batch), batch));
        if (graph.captured()) {
          graph.replay();
        } else if (step >= kEagerStepsBeforeCapture) {
          // The capture's warm-up call is this step's training step; the captured call itself does not execute.
          std::string why;
          if (!graph.capture(dev, [&] { train_step(idx_static); }, 1, &why)) {
            graph_failed = true;
            result.graph_fallback = why;
          }
        } else {
          train_step(idx_static);
        }
      } else {
        train_step(order.narrow(0, b * batch, std::min(batch, T - b * batch)));
      }
      ++report_n;
      ++epoch_n;

      // Progress, at most every report_interval_s of host time.
      const auto now = Clock::now();
      const bool last = step + 1 == total;
      if (pending && last) pending_event.wait();
      if (pending && pending_event.done()) {
        pending = false;
        emit(pending_progress, double(pending_host.item<float>()), pending_n);
      }
      const double since = std::chrono::duration<double>(now - last_report).count();
      if (opt.on_progress && (since >= opt.report_interval_s || last) && !pending) {
        FitProgress p;
        p.stage = opt.stage;
        p.step = step + 1;
        p.total_steps = total;
        p.epoch = epoch + 1;
        p.epochs = opt.epochs;
        if (speed.async_progress) {
          pending_host.copy_(report_sum, /*non_blocking=*/true);
          report_sum.zero_();
          pending_event.record(dev);
          pending = true;
          pending_progress = p;
          pending_n = report_n;
          if (last) {  // the final report is not left behind
            pending_event.wait();
            pending = false;
            emit(p, double(pending_host.item<float>()), pending_n);
          }
        } else {
          emit(p, report_host, report_n);
          report_host = 0;
        }
        report_n = 0;
        last_report = now;
      }
    }
  }
  if (pending) {  // stopped early with a report in flight
    pending_event.wait();
    pending = false;
    emit(pending_progress, double(pending_host.item<float>()), pending_n);
  }
  result.graphed = graph.captured();
  const double last_epoch_sum = speed.async_progress ? double(epoch_sum.item<float>()) : epoch_host;
  result.steps = step;
  result.final_psnr = psnr_of(epoch_n ? last_epoch_sum / double(epoch_n) : 1.0);

  // What is stored per frame: the encoder's embedding (with augmentation) and the temporal code.
  {
    torch::NoGradGuard no_grad;
    encoder->eval();
    decoder->eval();
    const auto all_tau = torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(dev)) /
                         float(std::max<int64_t>(1, T - 1));
    if (cfg.emb_channels > 0) {
      std::vector<torch::Tensor> embs;
      for (int64_t s = 0; s < T; s += batch) {
        const int64_t n = std::min(batch, T - s);
        embs.push_back(encoder->embed(pad_to(frames.narrow(0, s, n).to(torch::kFloat32), CH, CW), all_tau.narrow(0, s, n))
                           .to(torch::kCPU));
      }
      result.embeddings = torch::cat(embs, 0).contiguous();
    }
    if (cfg.tcode_dim > 0) result.temporal_codes = encoder->temporal_code(all_tau).to(torch::kCPU).contiguous();
  }
  // Back to the plain layout for packing and for the next stage, and the gradients' memory back to the allocator.
  if (speed.channels_last) {
    set_conv_memory_format(*decoder, torch::MemoryFormat::Contiguous);
    set_conv_memory_format(*encoder, torch::MemoryFormat::Contiguous);
  }
  clear_grads(*decoder);
  clear_grads(*encoder);
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace nvc
