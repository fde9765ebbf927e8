#include "codec/model_io.h"

#include "codec/picture_grids.h"

#include "codec/device.h"
#include "codec/flow_tail.h"
#include "codec/nvp_io.h"

#include <deque>
#include <sstream>

#ifdef NVC_HAVE_CUDA
#include <c10/cuda/CUDAStream.h>

#include "codec/cuda/color_convert.h"
#endif

namespace nvc {

namespace bs = bitstream;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "x" : "") << s[i];
  return o.str();
}

}  // namespace

torch::Tensor tensor_from_record(const bs::TensorRecord& rec, size_t index, const std::vector<int64_t>& expect,
                               const std::string& name) {
  std::vector<int64_t> shape(rec.shape.begin(), rec.shape.end());
  if (shape != expect) {
    throw bs::FormatError("tensor #" + std::to_string(index) + " ('" + name + "') has shape " + shape_str(shape) +
                          ", the model needs " + shape_str(expect));
  }
  std::vector<float> values =
      rec.coder == bs::Coder::Pictures ? decode_picture_record(rec, index) : bs::dequantize(rec, index);
  return torch::from_blob(values.data(), expect, torch::kFloat32).clone();
}


video::VideoFormat video_format_of(const bs::SequenceHeader& seq) {
  video::VideoFormat f;
  f.width = int(seq.width);
  f.height = int(seq.height);
  f.fps_num = int(seq.fps_num);
  f.fps_den = int(seq.fps_den);
  f.full_range = seq.full_range != 0;
  f.matrix = seq.matrix;
  f.frame_count = seq.frame_count;
  return f;
}

LoadedTNerv load_tnerv(const bs::NvcFile& file, const torch::Device& device) {
  LoadedTNerv m;
  m.cfg = TNervConfig::from_description(file.model, file.seq);
  m.decoder = TNervDecoder(m.cfg);
  auto params = m.decoder->named_parameters(/*recurse=*/true);
  const size_t needed = params.size() + (m.cfg.emb_channels > 0 ? 1 : 0) + (m.cfg.tcode_dim > 0 ? 1 : 0);
  if (file.tensors.size() != needed) {
    throw bs::FormatError("the T-NeRV model needs " + std::to_string(needed) + " tensors, the file has " +
                          std::to_string(file.tensors.size()));
  }
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : params) {
    torch::Tensor t = tensor_from_record(file.tensors[i], i, p.value().sizes().vec(), p.key());
    p.value().copy_(t);
    ++i;
  }
  if (m.cfg.emb_channels > 0) {
    m.embeddings = tensor_from_record(file.tensors[i], i,
                                    {m.cfg.frames, m.cfg.emb_channels, m.cfg.emb_h, m.cfg.emb_w}, "embeddings")
                       .to(device);
    ++i;
  }
  if (m.cfg.tcode_dim > 0)
    m.temporal_codes = tensor_from_record(file.tensors[i], i, {m.cfg.frames, m.cfg.tcode_dim}, "temporal codes")
                           .to(device);
  m.decoder->to(device);
  m.decoder->eval();
  return m;
}

std::vector<video::Frame> rgb_batch_to_frames(const torch::Tensor& rgb, int width, int height, int matrix,
                                              bool full_range) {
#ifdef NVC_HAVE_CUDA
  if (rgb.is_cuda()) {
    // Convert on the GPU and bring back only the 4:2:0 bytes (bit-identical to the CPU conversion).
    torch::Tensor in = rgb.to(torch::kFloat32).contiguous();
    const int64_t B = in.size(0), frame_bytes = int64_t(width) * height * 3 / 2;
    torch::Tensor out = torch::empty({B, frame_bytes}, in.options().dtype(torch::kUInt8));
    cuda::launch_rgb_to_yuv420(in.data_ptr<float>(), int(B), int(in.size(2)), int(in.size(3)), width, height,
                               cuda::yuv_coefficients(matrix, full_range), out.data_ptr<uint8_t>(),
                               c10::cuda::getCurrentCUDAStream(in.device().index()).stream());
    torch::Tensor host = out.to(torch::kCPU);
    std::vector<video::Frame> frames(static_cast<size_t>(B));
    const size_t ys = size_t(width) * height, cs = ys / 4;
    for (int64_t b = 0; b < B; ++b) {
      const uint8_t* p = host[b].data_ptr<uint8_t>();
      video::Frame& f = frames[size_t(b)];
      f.width = width;
      f.height = height;
      f.y.assign(p, p + ys);
      f.u.assign(p + ys, p + ys + cs);
      f.v.assign(p + ys + cs, p + ys + 2 * cs);
    }
    return frames;
  }
#endif
  torch::Tensor crop = rgb.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                  torch::indexing::Slice(0, height), torch::indexing::Slice(0, width)})
                           .to(torch::kCPU, torch::kFloat32)
                           .contiguous();
  std::vector<video::Frame> out;
  out.reserve(size_t(crop.size(0)));
  for (int64_t b = 0; b < crop.size(0); ++b)
    out.push_back(video::rgb_to_frame(crop[b].data_ptr<float>(), width, height, matrix, full_range));
  return out;
}

torch::Tensor rgb_batch_to_yuv420(const torch::Tensor& rgb, int width, int height, int matrix, bool full_range) {
  const int64_t B = rgb.size(0), frame_bytes = int64_t(width) * height * 3 / 2;
#ifdef NVC_HAVE_CUDA
  if (rgb.is_cuda()) {
    torch::Tensor in = rgb.to(torch::kFloat32).contiguous();
    torch::Tensor out = torch::empty({B, frame_bytes}, in.options().dtype(torch::kUInt8));
    cuda::launch_rgb_to_yuv420(in.data_ptr<float>(), int(B), int(in.size(2)), int(in.size(3)), width, height,
                               cuda::yuv_coefficients(matrix, full_range), out.data_ptr<uint8_t>(),
                               c10::cuda::getCurrentCUDAStream(in.device().index()).stream());
    return out;
  }
#endif
  torch::Tensor out = torch::empty({B, frame_bytes}, torch::kUInt8);
  const size_t ys = size_t(width) * height, cs = ys / 4;
  std::vector<video::Frame> frames = rgb_batch_to_frames(rgb, width, height, matrix, full_range);
  for (int64_t b = 0; b < B; ++b) {
    uint8_t* p = out[b].data_ptr<uint8_t>();
    const video::Frame& f = frames[size_t(b)];
    std::copy(f.y.begin(), f.y.end(), p);
    std::copy(f.u.begin(), f.u.end(), p + ys);
    std::copy(f.v.begin(), f.v.end(), p + ys + cs);
  }
  return out;
}

// ---- FrameDecoder -----------------------------------------------------------------------------------------------

// One network pass over frames [start, start + n), kept until its frames are output.
struct FrameDecoder::Chunk {
  int start = 0, n = 0;
  TNervPass pass;
};

// A captured full-batch pass: the inputs it reads and the outputs it writes at every replay.
struct FrameDecoder::Graph {
  CapturedStep step;
  torch::Tensor emb, tcode, tau;
  TNervPass out;
};

FrameDecoder::FrameDecoder(const bs::NvcFile& file, const torch::Device& device, const DecodeOptions& options)
    : model_(load_tnerv(file, device)),
      device_(device),
      opt_(options),
      dtype_(options.precision != c10::ScalarType::Undefined ? options.precision
                                                      : (device.is_cuda() ? torch::kFloat16 : torch::kFloat32)),
      batch_(options.batch > 0 ? options.batch : (device.is_cuda() ? 8 : 2)),
      matrix_(file.seq.matrix),
      full_range_(file.seq.full_range != 0) {
  if (dtype_ != torch::kFloat32 && dtype_ != torch::kFloat16 && dtype_ != torch::kBFloat16)
    throw std::invalid_argument("decode precision must be fp32, fp16 or bf16");
  if (dtype_ != torch::kFloat32) {
    model_.decoder->to(dtype_);
    if (model_.embeddings.defined()) model_.embeddings = model_.embeddings.to(dtype_);
    if (model_.temporal_codes.defined()) model_.temporal_codes = model_.temporal_codes.to(dtype_);
  }
  if (opt_.channels_last > 0 || (opt_.channels_last < 0 && device.is_cuda()))
    set_conv_memory_format(*model_.decoder, torch::MemoryFormat::ChannelsLast);
  window_ = torch::tensor(std::vector<int64_t>(std::begin(TNervConfig::kWindow), std::end(TNervConfig::kWindow)),
                          torch::kLong).to(device);
  if (opt_.cuda_graphs > 0 && !device.is_cuda()) graph_note_ = "CUDA graphs need a CUDA device";
}

std::string FrameDecoder::describe() const {
  std::string d = precision_name(dtype_) + ", batch " + std::to_string(batch_);
  if (graph_) d += ", CUDA graphs";
  else if (!graph_note_.empty()) d += ", no CUDA graphs (" + graph_note_ + ")";
  if (model_.cfg.flow) d += opt_.fused_tail ? ", fused tail" : ", reference tail";
  return d;
}

TNervPass FrameDecoder::run_pass(int start, int n) {
  const auto& cfg = model_.cfg;
  torch::Tensor emb, tcode;
  if (cfg.emb_channels > 0) emb = model_.embeddings.narrow(0, start, n);
  if (cfg.tcode_dim > 0) tcode = model_.temporal_codes.narrow(0, start, n);
  torch::Tensor tau = torch::arange(start, start + n, torch::TensorOptions().dtype(torch::kFloat32).device(device_)) /
                      float(std::max(1, cfg.frames - 1));
  const bool want_graph = device_.is_cuda() && opt_.cuda_graphs != 0 && n == batch_ && graph_note_.empty();
  if (want_graph && !graph_) {
    // Capture once, on the first full batch, then check one replay against an eager pass of the same frames: a
    // graph that cannot be captured or disagrees is dropped (with the reason in describe()) and decoding goes on
    // eagerly.
    auto g = std::make_shared<Graph>();
    if (emb.defined()) g->emb = emb.clone();
    if (tcode.defined()) g->tcode = tcode.clone();
    g->tau = tau.clone();
    std::string why;
    if (g->step.capture(device_, [&] { g->out = model_.decoder->pass(g->emb, g->tau, g->tcode); }, 2, &why)) {
      g->step.replay();
      const TNervPass eager = model_.decoder->pass(emb, tau, tcode);
      // Largest difference relative to the output's scale (flows are in pixels, the frames in [0, 1]).
      auto max_diff = [](const torch::Tensor& a, const torch::Tensor& b) {
        if (!a.defined()) return 0.0;
        const auto bf = b.to(torch::kFloat32);
        return (a.to(torch::kFloat32) - bf).abs().max().item<double>() /
               std::max(1.0, bf.abs().max().item<double>());
      };
      const double diff = std::max({max_diff(g->out.independent, eager.independent),
                                    max_diff(g->out.flows, eager.flows), max_diff(g->out.weights, eager.weights),
                                    max_diff(g->out.blend, eager.blend)});
      if (diff <= 2e-3) {
        graph_ = g;
        return eager;
      }
      why = "a replay differed from the eager pass by " + std::to_string(diff);
    }
    graph_note_ = why;
    return model_.decoder->pass(emb, tau, tcode);
  }
  if (want_graph && graph_) {
    if (emb.defined()) graph_->emb.copy_(emb);
    if (tcode.defined()) graph_->tcode.copy_(tcode);
    graph_->tau.copy_(tau);
    graph_->step.replay();
    // The graph's outputs are overwritten by the next replay, and chunks outlive it (look-ahead).
    TNervPass p;
    p.independent = graph_->out.independent.clone();
    if (graph_->out.flows.defined()) {
      p.flows = graph_->out.flows.clone();
      p.weights = graph_->out.weights.clone();
      p.blend = graph_->out.blend.clone();
    }
    return p;
  }
  return model_.decoder->pass(emb, tau, tcode);
}

torch::Tensor FrameDecoder::tail_yuv(const Chunk& c, const torch::Tensor& pool, int pool_slots) {
  const auto& cfg = model_.cfg;
  const int W = cfg.width, H = cfg.height;
  // Pool slot of each neighbour (t + kWindow[k]) of every frame of the chunk, -1 outside the video; computed on
  // the device so nothing waits on a host-to-device copy.
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(device_);
  const auto t = torch::arange(c.start, c.start + c.n, lopt).unsqueeze(1);
  const auto u = t + window_.unsqueeze(0);
  const auto inside = (u >= 0) & (u < cfg.frames);
  const auto slots = torch::where(inside, torch::remainder(u, pool_slots), torch::full_like(u, -1));
  if (opt_.fused_tail) {
    FlowTailInputs in;
    in.independent = c.pass.independent;
    in.flows = c.pass.flows;
    in.weights = c.pass.weights;
    in.blend = c.pass.blend;
    in.pool = pool;
    in.slots = slots.to(torch::kInt32);
    in.flow_scale = cfg.flow_upsampling();
    return flow_tail_yuv420(in, W, H, matrix_, full_range_);
  }
  // Reference: aggregate() in float32 (its warp coordinates need float32 precision at full resolution).
  TNervPass p32;
  p32.independent = c.pass.independent.to(torch::kFloat32);
  p32.flows = c.pass.flows.to(torch::kFloat32);
  p32.weights = c.pass.weights.to(torch::kFloat32);
  p32.blend = c.pass.blend.to(torch::kFloat32);
  const int64_t Hc = cfg.coded_height(), Wc = cfg.coded_width();
  const auto neighbours =
      pool.index_select(0, slots.clamp_min(0).flatten()).to(torch::kFloat32).view({c.n, 4, 3, Hc, Wc});
  const auto out = model_.decoder->aggregate(p32, neighbours, slots >= 0).output;
  return rgb_batch_to_yuv420(out, W, H, matrix_, full_range_);
}

void FrameDecoder::decode_device(int first, int count,
                                 const std::function<bool(int, const torch::Tensor&)>& sink) {
  torch::NoGradGuard no_grad;
  const auto& cfg = model_.cfg;
  const int frames = cfg.frames;
  if (first < 0 || count < 0 || first > frames || count > frames - first)
    throw std::out_of_range("frame range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") is outside the stream's " + std::to_string(frames) + " frames");
  const int W = cfg.width, H = cfg.height, end = first + count;
  if (!cfg.flow) {
    for (int start = first; start < end; start += batch_) {
      const int n = std::min(batch_, end - start);
      if (!sink(start, rgb_batch_to_yuv420(run_pass(start, n).independent, W, H, matrix_, full_range_))) return;
    }
    return;
  }
  // Flow-guided: passes run in chunks aligned with the output batches, ahead of them by the window's reach; their
  // independent frames go to a ring of slots (frame t in slot t mod R). Live at any time: frames [start - 2,
  // start + n + 2) plus at most one chunk's overshoot, fewer than R = 2 * batch + 6.
  const int reach = 2;  // max |kWindow|
  const int R = 2 * batch_ + 6;
  const int64_t Hc = cfg.coded_height(), Wc = cfg.coded_width();
  const torch::Tensor pool = torch::empty({R, 3, Hc, Wc}, torch::TensorOptions().dtype(dtype_).device(device_));
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(device_);
  auto compute = [&](int s, int n) {
    Chunk c;
    c.start = s;
    c.n = n;
    c.pass = run_pass(s, n);
    pool.index_copy_(0, torch::remainder(torch::arange(s, s + n, lopt), R), c.pass.independent.to(dtype_));
    return c;
  };
  // The neighbours before the range (a seek): their independent frames only.
  if (first > 0) compute(std::max(0, first - reach), first - std::max(0, first - reach));
  std::deque<Chunk> ahead;
  int next_pass = first;
  for (int start = first; start < end; start += batch_) {
    const int n = std::min(batch_, end - start);
    const int need_end = std::min(frames, start + n + reach);
    while (next_pass < need_end) {
      // Inside the range the chunks are the output batches; past its end one short chunk of trailing neighbours.
      const int m = next_pass < end ? std::min(batch_, end - next_pass) : need_end - next_pass;
      ahead.push_back(compute(next_pass, m));
      next_pass += m;
    }
    Chunk c = std::move(ahead.front());
    ahead.pop_front();
    if (c.start != start || c.n != n) throw std::logic_error("FrameDecoder: chunk out of step with its batch");
    if (!sink(start, tail_yuv(c, pool, R))) return;
  }
}

void deliver_frames_pipelined(int W, int H, const torch::Device& device,
                              const std::function<void(const DeviceBatchSink&)>& produce,
                              const std::function<bool(int, const video::Frame&)>& sink) {
  const size_t ys = size_t(W) * H, cs = ys / 4;
  struct InFlight {
    int start = 0;
    torch::Tensor host;
    DeviceEvent copied;
  };
  std::unique_ptr<InFlight> prev;
  bool stopped = false;
  auto deliver = [&](InFlight& f) {
    f.copied.wait();
    video::Frame frame;
    frame.width = W;
    frame.height = H;
    for (int64_t k = 0; k < f.host.size(0); ++k) {
      const uint8_t* p = f.host[k].data_ptr<uint8_t>();
      frame.y.assign(p, p + ys);
      frame.u.assign(p + ys, p + ys + cs);
      frame.v.assign(p + ys + cs, p + ys + 2 * cs);
      if (!sink(f.start + int(k), frame)) return false;
    }
    return true;
  };
  produce([&](int start, const torch::Tensor& yuv) {
    auto cur = std::make_unique<InFlight>();
    cur->start = start;
    if (yuv.is_cuda()) {
      cur->host = torch::empty(yuv.sizes(), torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(true));
      cur->host.copy_(yuv, /*non_blocking=*/true);
      cur->copied.record(device);
    } else {
      cur->host = yuv.contiguous();
    }
    if (prev && !deliver(*prev)) {
      stopped = true;
      prev.reset();
      return false;
    }
    prev = std::move(cur);
    return true;
  });
  if (prev && !stopped) deliver(*prev);
}

void FrameDecoder::decode(int first, int count, const std::function<bool(int, const video::Frame&)>& sink) {
  deliver_frames_pipelined(model_.cfg.width, model_.cfg.height, device_,
                           [&](const DeviceBatchSink& batch) { decode_device(first, count, batch); }, sink);
}

std::unique_ptr<StreamDecoder> open_stream_decoder(const bs::NvcFile& file, const torch::Device& device,
                                                   const DecodeOptions& options) {
  if (file.model.kind == "tnerv") return std::make_unique<FrameDecoder>(file, device, options);
  if (file.model.kind == "nvp") return std::make_unique<NvpFrameDecoder>(file, device, options);
  throw bs::FormatError("unknown model kind '" + file.model.kind + "' (this nvdec decodes tnerv and nvp)");
}

}  // namespace nvc
