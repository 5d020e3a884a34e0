// Method registry, tensor conversion and classification with adapted classifiers.
#include "methods/method.hpp"

#include "methods/protonet.hpp"
#include "util/error.hpp"

namespace fsh {

std::string to_string(BnPolicy p) { return p == BnPolicy::support ? "support" : "transductive"; }

BnPolicy parse_bn_policy(const std::string& s) {
  if (s == "support") return BnPolicy::support;
  if (s == "transductive") return BnPolicy::transductive;
  throw usage_error("unknown batch-norm policy '" + s + "' (expected support or transductive)");
}

EpisodeTensors to_tensors(const EpisodeImages& e) {
  EpisodeTensors t;
  t.n_way = static_cast<int>(e.n_way);
  t.k_shot = static_cast<int>(e.k_shot);
  t.n_query = static_cast<int>(e.n_query);
  t.channels = static_cast<int>(e.channels);
  t.height = static_cast<int>(e.height);
  t.width = static_cast<int>(e.width);
  const std::size_t hw = std::size_t(t.height) * t.width, C = t.channels;
  // [B, H, W, C] uint8 -> (B, C, H, W) float in [0, 1].
  auto convert = [&](const std::vector<uint8_t>& src, std::vector<float>& dst) {
    const std::size_t B = src.size() / (hw * C);
    dst.resize(src.size());
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t p = 0; p < hw; ++p)
        for (std::size_t c = 0; c < C; ++c)
          dst[(b * C + c) * hw + p] = src[(b * hw + p) * C + c] * (1.0f / 255.0f);
  };
  convert(e.support, t.support);
  convert(e.query, t.query);
  t.support_labels = e.support_labels;
  t.query_labels = e.query_labels;
  return t;
}

std::vector<std::string> method_names() { return {"protonet"}; }

std::unique_ptr<Method> make_method(const ModelConfig& cfg) {
  cfg.backbone.validate();
  if (cfg.method == "protonet") return std::make_unique<ProtoNet>(cfg);
  std::string known;
  for (auto& n : method_names()) known += (known.empty() ? "" : ", ") + n;
  throw usage_error("unknown method '" + cfg.method + "' (this build has: " + known + ")");
}

std::vector<int32_t> classify(const ModelConfig& cfg, const AdaptedClassifier& a,
                              const EpisodeTensors& ep, std::vector<float>* logits) {
  PrimaryNet<float> net(cfg.backbone, a.n_way);
  if (a.primary.size() != net.layout().size())
    throw shape_error("adapted classifier has " + std::to_string(a.primary.size()) +
                      " parameters; a " + std::to_string(a.n_way) + "-way primary network has " +
                      std::to_string(net.layout().size()));
  const int B = ep.query_rows();
  const float* out = net.forward(a.primary.data(), ep.query.data(), B);
  std::vector<int32_t> pred(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) {
    const float* row = out + std::size_t(b) * a.n_way;
    int best = 0;
    for (int c = 1; c < a.n_way; ++c)
      if (row[c] > row[best]) best = c;
    pred[static_cast<std::size_t>(b)] = best;
  }
  if (logits) logits->assign(out, out + std::size_t(B) * a.n_way);
  return pred;
}

}  // namespace fsh
