// Small synthetic data and quickly trained models for the benchmark tests (test_bench,
// test_bench_shard): the same dataset and training recipe in both, so their figures agree.
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.hpp"
#include "test_support.hpp"

namespace fsh::test {

// 40 synthetic classes of 10 images (seed 5), split by class half for training, half for test.
Dataset small_split();

// Trains `method` (hidden 8) for 6 n_way-way 1-shot episodes on d and returns the model
// file's path (dir/<file>, by default <method>.h5). d is lent to the training and given back.
std::string train_small(const std::string& method, Dataset& d, const TempDir& dir, uint64_t seed,
                        int64_t n_way = 5, std::string file = "");

}  // namespace fsh::test
