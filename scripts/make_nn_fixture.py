#!/usr/bin/python3
"""Writes tests/fixtures/nn_conv4_protonet.h5, the PyTorch reference for tests/test_nn_fixture.cpp.

A reduced Conv-4 (hidden 16, 28x28x1 input) on a tiny ProtoNet episode (3-way 2-shot 2-query;
rows 0..5 are the support set, class-major, rows 6..11 the queries), with inputs and weights drawn
here from torch.manual_seed(0). Written with PyTorch only (F.conv2d, F.batch_norm,
F.max_pool2d, F.cross_entropy, torch.optim.Adam), independently of fsh:

  ref32/batch/   float32: features (12, 16), loss, grads/<name> for every parameter
  ref64/<mode>/  the same computed in float64 from the same (float32-valued) inputs, for
                 mode "batch" and mode "support"
  adam/losses    losses of 5 torch.optim.Adam steps (lr 1e-3, float32, mode "batch"),
                 loss t evaluated at the parameters after t updates
  adam/final/<name>  parameters after the 5 steps

mode "batch": batch norm in training mode (statistics of all 12 rows, F.batch_norm);
mode "support": statistics of the first 6 rows (the support set) applied to all rows, written
out here with autograd differentiating through them.
Usage: scripts/make_nn_fixture.py [output.h5]   (Debian's python3-torch and python3-h5py)
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

HIDDEN, H, W, C_IN, DEPTH = 16, 28, 28, 1, 4
WAYS, SHOT, QUERY = 3, 2, 2
EPS, LR, ADAM_STEPS = 1e-5, 1e-3, 5
S = WAYS * SHOT
B = WAYS * (SHOT + QUERY)


def make_inputs():
    torch.manual_seed(0)
    # Pixel values k/255 like decoded 8-bit images (they also compress well).
    x = torch.randint(0, 256, (B, C_IN, H, W)).float() / 255
    params = {}
    for i in range(DEPTH):
        cin = C_IN if i == 0 else HIDDEN
        bound = 1.0 / (cin * 9) ** 0.5  # PyTorch's default conv initialisation range
        params[f"conv{i}.weight"] = (torch.rand(HIDDEN, cin, 3, 3) * 2 - 1) * bound
        params[f"conv{i}.bias"] = (torch.rand(HIDDEN) * 2 - 1) * bound
        params[f"bn{i}.gamma"] = 0.5 + torch.rand(HIDDEN)
        params[f"bn{i}.beta"] = (torch.rand(HIDDEN) - 0.5) * 0.4
    ys = torch.arange(WAYS).repeat_interleave(SHOT)
    yq = torch.arange(WAYS).repeat_interleave(QUERY)
    return x, params, ys, yq


def batch_norm(z, gamma, beta, mode):
    if mode == "batch":
        return F.batch_norm(z, None, None, gamma, beta, training=True, eps=EPS)
    sup = z[:S]
    mean = sup.mean(dim=(0, 2, 3), keepdim=True)
    var = ((sup - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)  # biased, as in training
    zhat = (z - mean) / torch.sqrt(var + EPS)
    return zhat * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)


def conv4(x, p, mode):
    for i in range(DEPTH):
        x = F.conv2d(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"], padding=1)
        x = batch_norm(x, p[f"bn{i}.gamma"], p[f"bn{i}.beta"], mode)
        x = F.max_pool2d(F.relu(x), 2)
    return x.reshape(x.shape[0], -1)


def protonet_loss(feat, ys, yq):
    support, query = feat[:S], feat[S:]
    protos = torch.stack([support[ys == c].mean(0) for c in range(WAYS)])
    d = ((query[:, None, :] - protos[None, :, :]) ** 2).sum(-1)
    return F.cross_entropy(-d, yq)


def reference(x, params, ys, yq, mode, dtype):
    p = {k: v.to(dtype).clone().requires_grad_(True) for k, v in params.items()}
    feat = conv4(x.to(dtype), p, mode)
    loss = protonet_loss(feat, ys, yq)
    loss.backward()
    return feat.detach(), loss.detach(), {k: v.grad for k, v in p.items()}


def adam_run(x, params, ys, yq):
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(list(p.values()), lr=LR)
    losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        loss = protonet_loss(conv4(x, p, "batch"), ys, yq)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return np.array(losses), {k: v.detach() for k, v in p.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "tests", "fixtures", "nn_conv4_protonet.h5")
    x, params, ys, yq = make_inputs()
    def put(group, name, data):
        # gzip only pays for itself on larger arrays (chunk indexes cost ~2 KB each).
        opts = dict(compression="gzip", compression_opts=9, shuffle=True) if data.size >= 512 else {}
        group.create_dataset(name, data=data, **opts)

    with h5py.File(out, "w", libver="latest") as f:
        f.attrs["what"] = "PyTorch reference for fsh's Conv-4 + ProtoNet loss (make_nn_fixture.py)"
        f.attrs["torch_version"] = str(torch.__version__)
        for k, v in dict(hidden=HIDDEN, height=H, width=W, in_channels=C_IN, depth=DEPTH,
                         ways=WAYS, shot=SHOT, query=QUERY, support_rows=S).items():
            f.attrs[k] = np.int32(v)
        f.attrs["bn_eps"] = EPS
        f.attrs["adam_lr"] = LR
        put(f, "x", x.numpy().astype(np.float32))
        f.create_dataset("support_labels", data=ys.numpy().astype(np.int32))
        f.create_dataset("query_labels", data=yq.numpy().astype(np.int32))
        for k, v in params.items():
            put(f, f"params/{k}", v.numpy().astype(np.float32))
        for mode, tag, dtype, np_t in (("batch", "ref32", torch.float32, np.float32),
                                       ("batch", "ref64", torch.float64, np.float64),
                                       ("support", "ref64", torch.float64, np.float64)):
            feat, loss, grads = reference(x, params, ys, yq, mode, dtype)
            g = f.create_group(f"{tag}/{mode}")
            put(g, "features", feat.numpy().astype(np_t))
            g.create_dataset("loss", data=np.array([loss.item()], dtype=np.float64))
            for k, v in grads.items():
                put(g, f"grads/{k}", v.numpy().astype(np_t))
        losses, final = adam_run(x, params, ys, yq)
        f.create_dataset("adam/losses", data=losses.astype(np.float64))
        for k, v in final.items():
            put(f, f"adam/final/{k}", v.numpy().astype(np.float32))
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
