// Prototype loss and head (see prototypes.hpp), composed from the backend's ops.
#include "methods/prototypes.hpp"

namespace fsh {

template <class T>
PrototypeResult prototype_loss(Kernels<T>& k, int N, int S, int Qn, int F, const T* feat,
                               const int32_t* support_labels, const int32_t* query_labels,
                               T* dfeat, PrototypeWork<T>& w) {
  const T* qfeat = feat + std::size_t(S) * F;
  w.protos.resize(std::size_t(N) * F);
  w.dist.resize(std::size_t(Qn) * N);
  w.probs.resize(w.dist.size());
  w.pred.resize(std::size_t(Qn));
  k.class_means_forward(S, F, N, feat, support_labels, w.protos.data());
  k.sq_dist_forward(Qn, N, F, qfeat, w.protos.data(), w.dist.data());
  for (T& d : w.dist) d = -d;  // logits
  PrototypeResult r;
  r.total = Qn;
  r.loss = k.softmax_xent_forward(Qn, N, w.dist.data(), query_labels, w.probs.data(),
                                  w.pred.data(), &r.correct);
  if (!dfeat) return r;
  w.dlogits.resize(w.dist.size());
  w.dprotos.resize(w.protos.size());
  k.softmax_xent_backward(Qn, N, w.probs.data(), query_labels, T(1), w.dlogits.data());
  for (T& g : w.dlogits) g = -g;  // d loss / d dist
  k.sq_dist_backward(Qn, N, F, qfeat, w.protos.data(), w.dlogits.data(),
                     dfeat + std::size_t(S) * F, w.dprotos.data());
  k.class_means_backward(S, F, N, support_labels, w.dprotos.data(), dfeat);
  return r;
}

template <class T>
void prototype_head(int N, int F, const T* protos, T* weight, T* bias) {
  for (int c = 0; c < N; ++c) {
    double sq = 0;
    for (int f = 0; f < F; ++f) {
      const T p = protos[std::size_t(c) * F + f];
      weight[std::size_t(c) * F + f] = T(2) * p;
      sq += double(p) * p;
    }
    bias[c] = static_cast<T>(-sq);
  }
}

template PrototypeResult prototype_loss<float>(Kernels<float>&, int, int, int, int, const float*,
                                               const int32_t*, const int32_t*, float*,
                                               PrototypeWork<float>&);
template PrototypeResult prototype_loss<double>(Kernels<double>&, int, int, int, int,
                                                const double*, const int32_t*, const int32_t*,
                                                double*, PrototypeWork<double>&);
template void prototype_head<float>(int, int, const float*, float*, float*);
template void prototype_head<double>(int, int, const double*, double*, double*);

}  // namespace fsh
