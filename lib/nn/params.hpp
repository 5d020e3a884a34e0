// Flat parameter storage with named views. All parameters of a model live in ONE contiguous
// buffer; a ParamLayout maps each name to (offset, shape). Gradients use the same layout, so an
// update θ − α∇L is one axpy over the whole buffer and a hypernetwork's emitted vector can be
// written straight into it. Views are laid out in the order they were added, without padding.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace fsh {

struct ParamView {
  std::string name;
  std::size_t offset = 0;   // in elements from the start of the buffer
  std::vector<int> shape;   // e.g. (K, C, kh, kw) for a conv weight
  std::size_t size = 0;     // product of shape
};

class ParamLayout {
 public:
  // Appends a view; returns its offset. Throws usage_error on a duplicate name or a shape with a
  // non-positive extent.
  std::size_t add(const std::string& name, const std::vector<int>& shape);
  // Throws usage_error naming the missing view and listing the known ones.
  const ParamView& at(const std::string& name) const;
  bool contains(const std::string& name) const;
  const std::vector<ParamView>& views() const { return views_; }
  std::size_t size() const { return size_; }  // total elements
  bool operator==(const ParamLayout& o) const;
  bool operator!=(const ParamLayout& o) const { return !(*this == o); }

 private:
  std::vector<ParamView> views_;
  std::size_t size_ = 0;
};

// Values and gradients of one layout, each a flat buffer of layout().size() elements.
template <class T>
class ParamSet {
 public:
  ParamSet() = default;
  explicit ParamSet(ParamLayout layout)
      : layout_(std::move(layout)), values_(layout_.size(), T(0)), grads_(layout_.size(), T(0)) {}

  const ParamLayout& layout() const { return layout_; }
  std::size_t size() const { return values_.size(); }
  T* values() { return values_.data(); }
  const T* values() const { return values_.data(); }
  T* grads() { return grads_.data(); }
  const T* grads() const { return grads_.data(); }
  T* value(const std::string& name) { return values_.data() + layout_.at(name).offset; }
  const T* value(const std::string& name) const {
    return values_.data() + layout_.at(name).offset;
  }
  T* grad(const std::string& name) { return grads_.data() + layout_.at(name).offset; }
  const T* grad(const std::string& name) const {
    return grads_.data() + layout_.at(name).offset;
  }
  void zero_grads() { std::fill(grads_.begin(), grads_.end(), T(0)); }

 private:
  ParamLayout layout_;
  std::vector<T> values_, grads_;
};

}  // namespace fsh
