// A test fixture, not a product feature: a method that, unlike ProtoNet, changes every
// convolution per episode. Meta-training is ProtoNet's; adaptation starts from the prototype
// head and then takes `steps` plain SGD steps at rate `lr` on the support set's cross-entropy
// over ALL parameters (conv weights and biases, batch-norm affine, head), with the support
// set's batch statistics, then folds the final support statistics into the fine-tuned
// convolutions. Its adapted classifiers therefore carry their own `convs`, which exercises
// fsh-adapted version 2 the way MAML will.
#pragma once
#include <string>

#include "methods/method.hpp"

namespace fsh::test {

// Registers the method under the name "finetune" (once; later calls do nothing).
void register_finetune_method();

// The fine-tuned, unfolded network of the last adapt() call, for tests that check folding:
// Conv-4 parameters (conv4_layout) and head (N, F) + (N).
struct FinetuneState {
  std::vector<float> conv4, head_w, head_b;
};
const FinetuneState& last_finetune_state(const Method& m);

}  // namespace fsh::test
