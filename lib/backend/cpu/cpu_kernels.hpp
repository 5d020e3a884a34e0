// The CPU backend's ops (internal to lib/backend): OpenBLAS for the gemms, plain loops for the
// rest. Each op's forward and backward are defined side by side in one file of this folder
// (conv.cpp, batch_norm.cpp, ...), which instantiates them for float and double.
#pragma once
#include "backend/backend.hpp"

namespace fsh::detail {

template <class T>
class CpuKernels final : public Kernels<T> {
 public:
  void gemm(bool trans_a, bool trans_b, int M, int N, int Kd, T alpha, const T* A, int lda,
            const T* B, int ldb, T beta, T* C, int ldc) override;
  void axpy(std::size_t n, T alpha, const T* x, T* y) override;
  void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                      T* work) override;
  void conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                       T* dbias, T* work) override;
  void batch_norm_forward(const BatchNormShape& s, const T* x, const T* gamma, const T* beta,
                          T* mean, T* var, T* xhat, T* y, bool relu) override;
  void batch_norm_backward(const BatchNormShape& s, const T* xhat, const T* gamma, const T* var,
                           const T* y, const T* dy, T* dx, T* dgamma, T* dbeta,
                           bool relu) override;
  void bn_relu_pool_forward(const BatchNormShape& bn, const PoolShape& pool, const T* x,
                            const T* xbias, const T* gamma, const T* beta, T* mean, T* var,
                            T* y, uint8_t* argmax) override;
  void bias_relu_pool_forward(const PoolShape& pool, const T* x, const T* bias,
                              T* y) override;
  void bn_relu_pool_backward(const BatchNormShape& bn, const PoolShape& pool, const T* x,
                             const T* xbias, const T* gamma, const T* beta, const T* mean,
                             const T* var, const T* y, const uint8_t* argmax, const T* dy, T* dx,
                             T* dxbias, T* dgamma, T* dbeta) override;
  void relu_forward(std::size_t n, const T* x, T* y) override;
  void relu_backward(std::size_t n, const T* y, const T* dy, T* dx) override;
  void max_pool_forward(const PoolShape& s, const T* x, T* y, uint8_t* argmax) override;
  void max_pool_backward(const PoolShape& s, const uint8_t* argmax, const T* dy,
                         T* dx) override;
  void linear_forward(int B, int D, int N, const T* x, const T* w, const T* b, T* y) override;
  void linear_backward(int B, int D, int N, const T* x, const T* w, const T* dy, T* dx, T* dw,
                       T* db) override;
  void film_forward(int B, int C, int HW, const T* x, const T* scale, const T* shift,
                    T* y) override;
  void film_backward(int B, int C, int HW, const T* x, const T* scale, const T* dy, T* dx,
                     T* dscale, T* dshift) override;
  T softmax_xent_forward(int B, int N, const T* logits, const int32_t* labels, T* probs,
                         int32_t* pred, int* correct) override;
  void softmax_xent_backward(int B, int N, const T* probs, const int32_t* labels, T dloss,
                             T* dlogits) override;
  void sq_dist_forward(int M, int N, int D, const T* a, const T* b, T* d) override;
  void sq_dist_backward(int M, int N, int D, const T* a, const T* b, const T* dd, T* da,
                        T* db) override;
  void class_means_forward(int R, int D, int N, const T* x, const int32_t* labels,
                           T* means) override;
  void class_means_backward(int R, int D, int N, const int32_t* labels, const T* dmeans,
                            T* dx) override;
  void conv2d_forward_tangent(const ConvShape& s, const T* x, const T* xdot, const T* w,
                              const T* wdot, const T* bias_dot, T* ydot, T* work) override;
  void conv2d_backward_tangent(const ConvShape& s, const T* x, const T* xdot, const T* w,
                               const T* wdot, const T* dy, const T* dydot, T* dx, T* dxdot,
                               T* dwdot, T* dbias_dot, T* work) override;
  void bn_relu_pool_forward_tangent(const BatchNormShape& bn, const PoolShape& pool, const T* x,
                                    const T* xbias, const T* gamma, const T* mean, const T* var,
                                    const T* y, const uint8_t* argmax, const T* xdot,
                                    const T* xbias_dot, const T* gamma_dot, const T* beta_dot,
                                    T* ydot) override;
  void bn_relu_pool_backward_tangent(const BatchNormShape& bn, const PoolShape& pool, const T* x,
                                     const T* xbias, const T* gamma, const T* mean, const T* var,
                                     const T* y, const uint8_t* argmax, const T* dy,
                                     const T* xdot, const T* xbias_dot, const T* gamma_dot,
                                     const T* dydot, T* dx, T* dxdot, T* dxbias_dot,
                                     T* dgamma_dot, T* dbeta_dot) override;
  void linear_forward_tangent(int B, int D, int N, const T* x, const T* xdot, const T* w,
                              const T* wdot, const T* bdot, T* ydot) override;
  void linear_backward_tangent(int B, int D, int N, const T* x, const T* xdot, const T* w,
                               const T* wdot, const T* dy, const T* dydot, T* dxdot, T* dwdot,
                               T* dbdot) override;
  void softmax_xent_backward_tangent(int B, int N, const T* probs, const T* ldot, T dloss,
                                     T* dlogits_dot) override;
  void adam_update(std::size_t n, T* theta, const T* grad, T* m, T* v, double lr, double beta1,
                   double beta2, double eps, double weight_decay, int64_t t) override;
  void sgd_update(std::size_t n, T* theta, const T* grad, T* buf, double lr, double momentum,
                  double weight_decay, bool first_step) override;
};

}  // namespace fsh::detail
