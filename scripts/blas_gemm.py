#!/usr/bin/env python3
"""Reference GEMM rates for `fluxj bench gemm`: numpy's sgemm (OpenBLAS) on f32 copies of the same shapes.

Usage: blas_gemm.py [--reps R] M,K,N [M,K,N ...]
Computes y = x @ w.T (x [M,K], w [N,K], f32) like fluxj's Matmul, and prints one JSON document:
{"numpy": version, "blas": library info, "rates": {"M,K,N": [wall, cpu]}}: the best GFLOP/s over R timed runs
after a small warm-up, by wall clock and by process CPU time per thread (the latter is what a shared, loaded
machine cannot distort much). Threads follow OPENBLAS_NUM_THREADS, set by the caller to match its own count.
"""
import json
import os
import sys
import time

import numpy as np


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return "%s %s" % (blas.get("name", "?"), blas.get("version", "?"))
    except Exception:  # older numpy without mode="dicts"
        return "unknown BLAS"


def rate(m, k, n, reps):
    rng = np.random.default_rng(0)
    x = rng.random((m, k), dtype=np.float32)
    w = rng.random((n, k), dtype=np.float32)
    y = np.empty((m, n), dtype=np.float32)
    np.matmul(x[: min(m, 64)], w.T, out=y[: min(m, 64)])
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    wall = cpu = float("inf")
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        np.matmul(x, w.T, out=y)
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, (time.process_time() - c) / threads)
    flops = 2.0 * m * k * n / 1e9
    return [flops / wall, flops / cpu]


def main(argv):
    reps = 3
    shapes = []
    i = 0
    while i < len(argv):
        if argv[i] == "--reps":
            reps = int(argv[i + 1])
            i += 2
            continue
        shapes.append(tuple(int(v) for v in argv[i].split(",")))
        i += 1
    rates = {"%d,%d,%d" % s: rate(*s, reps) for s in shapes}
    print(json.dumps({"numpy": np.__version__, "blas": blas_name(), "rates": rates}))


if __name__ == "__main__":
    main(sys.argv[1:])
