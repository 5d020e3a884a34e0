// The prototype computations of Prototypical Networks, as functions every method can use
// (ProtoNet's loss and head; the hypernetwork starts exactly there).
//   prototypes p_c = mean of class c's support features;
//   score of query q for class c = −‖f_q − p_c‖²; loss = mean softmax cross-entropy;
//   the equivalent linear head W_c = 2·p_c, b_c = −‖p_c‖² (‖f_q‖² is the same for every class,
//   so the head ranks and softmaxes exactly like the distances).
// Templated on the precision (float for training, double for gradient checks).
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"

namespace fsh {

template <class T>
struct PrototypeWork {
  std::vector<T> protos, dist, probs, dlogits, dprotos;
  std::vector<int32_t> pred;
};

struct PrototypeResult {
  double loss = 0;
  int correct = 0, total = 0;
};

// feat: (S + Qn, F) features, the S support rows first; labels in [0, N), every class present
// in the support. Returns the mean query loss and accuracy; when dfeat is not null, writes
// d loss / d feat (S + Qn, F) there (overwritten). w.protos holds the prototypes (N, F) after.
template <class T>
PrototypeResult prototype_loss(Kernels<T>& k, int N, int S, int Qn, int F, const T* feat,
                               const int32_t* support_labels, const int32_t* query_labels,
                               T* dfeat, PrototypeWork<T>& w);

// protos (N, F) -> head weight (N, F) = 2·p and bias (N) = −‖p‖² (accumulated in double).
template <class T>
void prototype_head(int N, int F, const T* protos, T* weight, T* bias);

}  // namespace fsh
