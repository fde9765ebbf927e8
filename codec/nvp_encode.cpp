#include "codec/nvp_encode.h"

#include "codec/compress.h"
#include "codec/quantize.h"

namespace nvc {

namespace bs = bitstream;

bs::NvcFile pack_nvp(NvpModel& model, const bs::SequenceHeader& seq, double weight_bits, double grid_bits,
                     const std::string& encoder_info) {
  bs::NvcFile f;
  f.seq = seq;
  f.model = model->cfg.to_description();
  f.encoder_info = encoder_info;
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters(/*recurse=*/true)) {
    const torch::Tensor t = p.value().detach().to(torch::kCPU, torch::kFloat32);
    TensorQuant q;
    if (p.key().rfind("keyframes_", 0) == 0) {
      q = {TensorQuant::Asymmetric, grid_bits, /*axis=*/1, bs::Component::Grids};
    } else if (p.key() == "sparse") {
      q = {TensorQuant::Asymmetric, grid_bits, /*axis=*/0, bs::Component::Grids};
    } else {
      q = decoder_param_quant(p.key(), t, weight_bits, grid_bits);
    }
    f.tensors.push_back(quantize_tensor(t, q));
  }
  return f;
}

}  // namespace nvc
