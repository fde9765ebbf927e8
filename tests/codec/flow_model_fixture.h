// A random flow-guided T-NeRV packed into a stream, for decoder tests: flows and blends large enough that the
// aggregation visibly matters, every tensor at 12 bits.
#pragma once
#include <torch/torch.h>

#include "bitstream/nvc_file.h"
#include "codec/encode.h"

namespace nvc::test {

inline bitstream::NvcFile random_flow_file(int W, int H, int T, uint64_t seed, int matrix) {
  torch::manual_seed(seed);
  TNervVariant every_part;
  every_part.size_adaptive = false;
  const TNervConfig c = auto_config(W, H, T, 30000, every_part);
  if (!c.flow) throw std::logic_error("random_flow_file: the configuration has no flow-guided decoder");
  TNervDecoder dec(c);
  {
    torch::NoGradGuard ng;
    dec->flow_head->weight.normal_(0, 0.5);
    dec->head->bias.zero_();
  }
  const torch::Tensor emb = torch::randn({T, c.emb_channels, c.emb_h, c.emb_w});
  const torch::Tensor tcode = torch::randn({T, c.tcode_dim});
  video::VideoFormat fmt;
  fmt.width = W;
  fmt.height = H;
  fmt.fps_num = 25;
  fmt.fps_den = 1;
  fmt.matrix = matrix;
  return pack_tnerv(c, dec, emb, tcode, sequence_header_of(fmt, T), 12.0, 12.0, "test");
}

}  // namespace nvc::test
