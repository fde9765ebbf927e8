#include "codec/nvp_io.h"

#include "codec/model_io.h"

namespace nvc {

namespace bs = bitstream;

NvpModel load_nvp(const bs::NvcFile& file, const torch::Device& device) {
  if (file.model.kind != "nvp") throw bs::FormatError("model kind '" + file.model.kind + "' is not nvp");
  const NvpConfig cfg = NvpConfig::from_description(file.model, file.seq);
  NvpModel model(cfg);
  auto params = model->named_parameters(/*recurse=*/true);
  if (file.tensors.size() != params.size())
    throw bs::FormatError("the NVP model needs " + std::to_string(params.size()) + " tensors, the file has " +
                          std::to_string(file.tensors.size()));
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : params) {
    p.value().copy_(tensor_from_record(file.tensors[i], i, p.value().sizes().vec(), p.key()));
    ++i;
  }
  model->to(device);
  model->eval();
  return model;
}

}  // namespace nvc
