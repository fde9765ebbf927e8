#include "codec/model_io.h"

#include <map>
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

torch::Tensor record_to_tensor(const bs::TensorRecord& rec, size_t index, const std::vector<int64_t>& expect,
                               const std::string& name) {
  std::vector<int64_t> shape(rec.shape.begin(), rec.shape.end());
  if (shape != expect) {
    throw bs::FormatError("tensor #" + std::to_string(index) + " ('" + name + "') has shape " + shape_str(shape) +
                          ", the model needs " + shape_str(expect));
  }
  std::vector<float> values = bs::dequantize(rec, index);
  return torch::from_blob(values.data(), expect, torch::kFloat32).clone();
}

}  // namespace

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
    torch::Tensor t = record_to_tensor(file.tensors[i], i, p.value().sizes().vec(), p.key());
    p.value().copy_(t);
    ++i;
  }
  if (m.cfg.emb_channels > 0) {
    m.embeddings = record_to_tensor(file.tensors[i], i,
                                    {m.cfg.frames, m.cfg.emb_channels, m.cfg.emb_h, m.cfg.emb_w}, "embeddings")
                       .to(device);
    ++i;
  }
  if (m.cfg.tcode_dim > 0)
    m.temporal_codes = record_to_tensor(file.tensors[i], i, {m.cfg.frames, m.cfg.tcode_dim}, "temporal codes")
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

FrameDecoder::FrameDecoder(const bs::NvcFile& file, const torch::Device& device, int batch)
    : model_(load_tnerv(file, device)),
      device_(device),
      batch_(batch > 0 ? batch : (device.is_cuda() ? 8 : 2)),
      matrix_(file.seq.matrix),
      full_range_(file.seq.full_range != 0) {}

TNervPass FrameDecoder::run_pass(int start, int n) {
  const auto& cfg = model_.cfg;
  torch::Tensor emb, tcode;
  if (cfg.emb_channels > 0) emb = model_.embeddings.narrow(0, start, n);
  if (cfg.tcode_dim > 0) tcode = model_.temporal_codes.narrow(0, start, n);
  torch::Tensor tau = torch::arange(start, start + n, torch::TensorOptions().dtype(torch::kFloat32).device(device_)) /
                      float(std::max(1, cfg.frames - 1));
  return model_.decoder->pass(emb, tau, tcode);
}

void FrameDecoder::decode(int first, int count, const std::function<bool(int, const video::Frame&)>& sink) {
  torch::NoGradGuard no_grad;
  const int frames = model_.cfg.frames;
  if (first < 0 || count < 0 || first > frames || count > frames - first)
    throw std::out_of_range("frame range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") is outside the stream's " + std::to_string(frames) + " frames");
  const int W = model_.cfg.width, H = model_.cfg.height;
  if (!model_.cfg.flow) {
    for (int start = first; start < first + count; start += batch_) {
      const int n = std::min(batch_, first + count - start);
      auto batch = rgb_batch_to_frames(run_pass(start, n).independent, W, H, matrix_, full_range_);
      for (int k = 0; k < n; ++k)
        if (!sink(start + k, batch[size_t(k)])) return;
    }
    return;
  }
  // Sliding window over the passes: pass_of[t] holds frame t's pass while some frame still needs it.
  const int reach = 2;  // max |kWindow|
  std::map<int, TNervPass> pass_of;
  int next_pass = std::max(0, first - reach);
  const int64_t Hc = model_.cfg.coded_height(), Wc = model_.cfg.coded_width();
  for (int start = first; start < first + count; start += batch_) {
    const int n = std::min(batch_, first + count - start);
    // Passes up to the last neighbour of this batch, in batches.
    const int need_end = std::min(frames, start + n + reach);
    while (next_pass < need_end) {
      const int m = std::min(batch_, need_end - next_pass);
      TNervPass p = run_pass(next_pass, m);
      for (int k = 0; k < m; ++k) {
        TNervPass one;
        one.independent = p.independent.narrow(0, k, 1);
        one.flows = p.flows.narrow(0, k, 1);
        one.weights = p.weights.narrow(0, k, 1);
        one.blend = p.blend.narrow(0, k, 1);
        pass_of[next_pass + k] = one;
      }
      next_pass += m;
    }
    TNervPass cur;
    std::vector<torch::Tensor> ind, fl, wt, bl, nbs;
    std::vector<uint8_t> valid;
    const auto zero = torch::zeros({1, 3, Hc, Wc}, model_.decoder->head->weight.options());
    for (int t = start; t < start + n; ++t) {
      const TNervPass& p = pass_of.at(t);
      ind.push_back(p.independent);
      fl.push_back(p.flows);
      wt.push_back(p.weights);
      bl.push_back(p.blend);
      std::vector<torch::Tensor> nb;
      for (int off : TNervConfig::kWindow) {
        const int u = t + off;
        const bool ok = u >= 0 && u < frames;
        valid.push_back(ok ? 1 : 0);
        nb.push_back(ok ? pass_of.at(u).independent : zero);
      }
      nbs.push_back(torch::stack(nb, 1));  // [1, 4, 3, Hc, Wc]
    }
    cur.independent = torch::cat(ind, 0);
    cur.flows = torch::cat(fl, 0);
    cur.weights = torch::cat(wt, 0);
    cur.blend = torch::cat(bl, 0);
    const auto valid_t = torch::from_blob(valid.data(), {n, 4}, torch::kUInt8).to(torch::kBool).to(device_);
    const auto out = model_.decoder->aggregate(cur, torch::cat(nbs, 0), valid_t).output;
    auto batch = rgb_batch_to_frames(out, W, H, matrix_, full_range_);
    // Frames before the next batch's first neighbour are no longer needed.
    for (auto it = pass_of.begin(); it != pass_of.end() && it->first < start + n - reach;) it = pass_of.erase(it);
    for (int k = 0; k < n; ++k)
      if (!sink(start + k, batch[size_t(k)])) return;
  }
}

}  // namespace nvc
