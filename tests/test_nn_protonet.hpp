// The ProtoNet loss composed from backend ops, for the neural-core tests (test_nn.cpp,
// test_nn_fixture.cpp): rows 0..S-1 of the features are the support set, the rest queries;
// prototypes = per-class means of support features, logits = −‖q − p‖², mean softmax
// cross-entropy over the queries.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/registry.hpp"

namespace fsh::test {

// feat: (S + Q, F). Returns the loss; when dfeat is not null writes dL/dfeat: (S + Q, F).
template <class T>
T protonet_loss(int N, int F, const std::vector<int32_t>& support_labels,
                const std::vector<int32_t>& query_labels, const T* feat, T* dfeat) {
  auto& k = cpu_backend().kernels<T>();
  const int S = int(support_labels.size()), Q = int(query_labels.size());
  std::vector<T> protos(std::size_t(N) * F), d(std::size_t(Q) * N), probs(d.size());
  k.class_means_forward(S, F, N, feat, support_labels.data(), protos.data());
  const T* q = feat + std::size_t(S) * F;
  k.sq_dist_forward(Q, N, F, q, protos.data(), d.data());
  for (auto& v : d) v = -v;
  T loss = k.softmax_xent_forward(Q, N, d.data(), query_labels.data(), probs.data(), nullptr,
                                  nullptr);
  if (dfeat) {
    std::vector<T> dlogits(d.size()), dprotos(protos.size());
    k.softmax_xent_backward(Q, N, probs.data(), query_labels.data(), T(1), dlogits.data());
    for (auto& v : dlogits) v = -v;
    k.sq_dist_backward(Q, N, F, q, protos.data(), dlogits.data(), dfeat + std::size_t(S) * F,
                       dprotos.data());
    k.class_means_backward(S, F, N, support_labels.data(), dprotos.data(), dfeat);
  }
  return loss;
}

}  // namespace fsh::test
