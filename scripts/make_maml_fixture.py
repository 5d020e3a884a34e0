#!/usr/bin/python3
"""Writes tests/fixtures/maml_conv4.h5, the PyTorch reference for tests/test_maml_fixture.cpp.

MAML on a reduced Conv-4 (hidden 4, depth 4, 20x20x1 input: 20 -> 10 -> 5 -> 2 -> 1, one odd size
that the pool floors) with a 3-way linear head, on one 3-way 2-shot 2-query task (support rows
class-major, then the queries). Inputs and parameters are drawn here from torch.manual_seed(0)
as float32 values. Written with PyTorch only (F.conv2d, F.batch_norm, F.relu, F.max_pool2d,
F.linear, F.cross_entropy, torch.autograd.grad), independently of fsh:

  inner loop   theta_{j+1} = theta_j - LR * grad L_S(theta_j) over ALL parameters, the gradient
               taken with create_graph=True, so that autograd differentiates through it (second
               order); with create_graph=False (first order) the inner gradients are constants.
  meta-loss    L_Q(theta_n), the mean cross-entropy of the queries.
  batch norm   policy "support": the inner forwards see the support images alone (their batch
               statistics, F.batch_norm in training mode); the query forward normalises support
               and queries with the statistics of the support rows (written out here, autograd
               differentiating through them). Policy "transductive": every forward holds support
               and queries together with their joint batch statistics (F.batch_norm); the inner
               loss counts the support rows only.

  params/<name>  theta, one dataset per parameter; the root attribute "layout" lists the names
                 in the order every flat vector below concatenates them (fsh's layout order)
  ref64/<policy>/steps<n>/   float64, n = 1 and 2 inner steps, policy support and transductive:
      loss     L_Q(theta_n)
      second   d L_Q(theta_n) / d theta, second order (create_graph=True), flat
      first    the same, first order, flat
  ref64/support/adapt3   theta_3: the parameters after 3 inner steps (adaptation), flat
  ref32/support/steps1/second, loss   the float32 computation, for the float path

Usage: scripts/make_maml_fixture.py [output.h5]   (Debian's python3-torch and python3-h5py)
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

HIDDEN, H, W, C_IN, DEPTH = 4, 20, 20, 1, 4
WAYS, SHOT, QUERY = 3, 2, 2
EPS, LR = 1e-5, 0.4
S = WAYS * SHOT
Q = WAYS * QUERY


def make_inputs():
    torch.manual_seed(0)
    xs = torch.rand(S, C_IN, H, W)
    xq = torch.rand(Q, C_IN, H, W)
    params = {}
    for i in range(DEPTH):
        cin = C_IN if i == 0 else HIDDEN
        bound = 1.0 / (cin * 9) ** 0.5  # PyTorch's default conv initialisation range
        params[f"conv{i}.weight"] = (torch.rand(HIDDEN, cin, 3, 3) * 2 - 1) * bound
        params[f"conv{i}.bias"] = (torch.rand(HIDDEN) * 2 - 1) * bound
        params[f"bn{i}.gamma"] = 0.6 + 0.8 * torch.rand(HIDDEN)
        params[f"bn{i}.beta"] = (torch.rand(HIDDEN) - 0.5) * 0.6
    feat = HIDDEN * (H >> DEPTH) * (W >> DEPTH)
    bound = 1.0 / feat ** 0.5  # nn.Linear's default range
    params["head.weight"] = (torch.rand(WAYS, feat) * 2 - 1) * bound
    params["head.bias"] = (torch.rand(WAYS) * 2 - 1) * bound
    ys = torch.arange(WAYS).repeat_interleave(SHOT)
    yq = torch.arange(WAYS).repeat_interleave(QUERY)
    return xs, xq, params, ys, yq


def batch_norm(z, gamma, beta, stats_rows):
    """Batch norm whose statistics come from the first stats_rows rows (all rows: F.batch_norm)."""
    if stats_rows == z.shape[0]:
        return F.batch_norm(z, None, None, gamma, beta, training=True, eps=EPS)
    sup = z[:stats_rows]
    mean = sup.mean(dim=(0, 2, 3), keepdim=True)
    var = ((sup - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)  # biased, as in training
    zhat = (z - mean) / torch.sqrt(var + EPS)
    return zhat * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)


def logits(p, x, stats_rows):
    for i in range(DEPTH):
        x = F.conv2d(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"], padding=1)
        x = batch_norm(x, p[f"bn{i}.gamma"], p[f"bn{i}.beta"], stats_rows)
        x = F.max_pool2d(F.relu(x), 2)
    return F.linear(x.reshape(x.shape[0], -1), p["head.weight"], p["head.bias"])


def inner_loop(theta, xs, xq, ys, steps, policy, create_graph):
    fast = dict(theta)
    xall = torch.cat([xs, xq])
    for _ in range(steps):
        if policy == "support":
            out = logits(fast, xs, S)
        else:
            out = logits(fast, xall, S + Q)[:S]
        loss = F.cross_entropy(out, ys)
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=create_graph)
        fast = {k: v - LR * g for (k, v), g in zip(fast.items(), grads)}
    return fast


def meta_gradient(params, xs, xq, ys, yq, steps, policy, second_order, dtype):
    theta = {k: v.to(dtype).clone().requires_grad_(True) for k, v in params.items()}
    xs, xq = xs.to(dtype), xq.to(dtype)
    fast = inner_loop(theta, xs, xq, ys, steps, policy, second_order)
    xall = torch.cat([xs, xq])
    out = logits(fast, xall, S if policy == "support" else S + Q)[S:]
    loss = F.cross_entropy(out, yq)
    grads = torch.autograd.grad(loss, list(theta.values()))
    return loss.detach(), dict(zip(theta.keys(), grads))


def flat(tensors):
    """The tensors of a name -> tensor dict concatenated in insertion (= fsh layout) order."""
    return np.concatenate([t.detach().numpy().ravel() for t in tensors.values()])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "tests", "fixtures", "maml_conv4.h5")
    xs, xq, params, ys, yq = make_inputs()
    with h5py.File(out, "w", libver="latest") as f:
        f.attrs["what"] = "PyTorch reference for fsh's MAML meta-gradients (make_maml_fixture.py)"
        f.attrs["torch_version"] = str(torch.__version__)
        for k, v in dict(hidden=HIDDEN, height=H, width=W, in_channels=C_IN, depth=DEPTH,
                         ways=WAYS, shot=SHOT, query=QUERY).items():
            f.attrs[k] = np.int32(v)
        f.attrs["bn_eps"] = EPS
        f.attrs["inner_lr"] = LR
        f.attrs["layout"] = ",".join(params.keys())
        f.create_dataset("support", data=xs.numpy().astype(np.float32))
        f.create_dataset("query", data=xq.numpy().astype(np.float32))
        f.create_dataset("support_labels", data=ys.numpy().astype(np.int32))
        f.create_dataset("query_labels", data=yq.numpy().astype(np.int32))
        for k, v in params.items():
            f.create_dataset(f"params/{k}", data=v.numpy().astype(np.float32))
        for policy in ("support", "transductive"):
            for steps in (1, 2):
                g = f.create_group(f"ref64/{policy}/steps{steps}")
                loss, second = meta_gradient(params, xs, xq, ys, yq, steps, policy, True,
                                             torch.float64)
                _, first = meta_gradient(params, xs, xq, ys, yq, steps, policy, False,
                                         torch.float64)
                g.create_dataset("loss", data=np.array([loss.item()], dtype=np.float64))
                g.create_dataset("second", data=flat(second))
                g.create_dataset("first", data=flat(first))
        theta = {k: v.double().clone().requires_grad_(True) for k, v in params.items()}
        fast = inner_loop(theta, xs.double(), xq.double(), ys, 3, "support", False)
        f.create_dataset("ref64/support/adapt3", data=flat(fast))
        loss, second = meta_gradient(params, xs, xq, ys, yq, 1, "support", True, torch.float32)
        g = f.create_group("ref32/support/steps1")
        g.create_dataset("loss", data=np.array([loss.item()], dtype=np.float64))
        g.create_dataset("second", data=flat(second).astype(np.float32))
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
