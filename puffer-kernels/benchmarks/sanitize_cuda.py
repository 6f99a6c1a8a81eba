"""Runs every CUDA kernel path once on small odd shapes, for `compute-sanitizer --tool memcheck`/`racecheck`.

    compute-sanitizer --tool memcheck --kernel-name regex:"warp_scan|tiled|naive" \
        python puffer-kernels/benchmarks/sanitize_cuda.py

Out-of-bounds reads or writes show up as sanitizer errors; the script itself only checks for NaN.
"""

from __future__ import annotations

import torch

import puffer_kernels as pk

SCALARS = dict(gamma=0.99, gae_lambda=0.95, rho_clip=1.0, c_clip=1.0)


def buffers(rows: int, horizon: int, offset: int) -> list[torch.Tensor]:
    out = []
    for _ in range(6):
        flat = torch.rand(rows * horizon + offset + 1, device="cuda")
        out.append(flat[offset : offset + rows * horizon].view(rows, horizon))
    return out


def main() -> None:
    for rows, horizon in [(1, 1), (3, 2), (9, 31), (5, 33), (13, 65), (17, 129), (9, 260), (3, 1000)]:
        for offset in (0, 1):
            b = buffers(rows, horizon, offset)
            for variant in pk.CUDA_VARIANTS:
                b[4].fill_(float("nan"))
                pk.puff_advantage_cuda_variant(*b[:5], variant=variant, **SCALARS)
                assert not torch.isnan(b[4]).any(), (rows, horizon, offset, variant)
            pk.gae(b[0], b[1], b[2], b[4], gamma=0.9, gae_lambda=0.9)
            pk.vtrace(*b, gamma=0.9)
            assert not torch.isnan(b[5]).any()
    torch.cuda.synchronize()
    print("sanitize_cuda: all kernel paths ran")


if __name__ == "__main__":
    main()
