// `fsh-episodes info` for the formats of lib/methods: fsh-model (method, settings, batch-norm
// policy, backbone, training progress and configuration, best validation) and fsh-adapted
// (method, settings, policy, episodes, how the classifiers are stored). Reading validates the
// file as the tools' readers do.
#pragma once
#include <vector>

#include "io/hdf5.hpp"
#include "io/info.hpp"

namespace fsh {

// Lines for an fsh-model or fsh-adapted file; none for other formats.
std::vector<InfoLine> describe_method_file(const io::Reader& r);

}  // namespace fsh
