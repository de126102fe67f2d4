#!/usr/bin/env python3
"""What users write today: the suite's workloads run from Python `threading` threads on the box's own
PyTorch, with one host read per op (the sync). Prints ops/s per thread count, for comparison with
the suite's C++ runner in docs/benchmarks.md. No value checks here: this is the baseline's speed.

    python3 tools/python_baseline/threads_baseline.py --device cuda --threads 1,8 --seconds 5
"""
import argparse
import json
import sys
import threading
import time

try:
    import torch
except ImportError:
    print("threads_baseline.py: PyTorch is not importable by this python3; accepted: a python3 with torch", file=sys.stderr)
    sys.exit(2)


def make_workload(name, device):
    """Returns (fn(x), make_input(thread)) for a workload of the suite's, same shapes as workloads.cpp."""
    torch.manual_seed(1974)
    if name == "linear_relu":
        model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU()).to(device).eval()
        return model, lambda t: torch.randn(64, 256, device=device)
    if name == "matmul128":
        return (lambda x: torch.matmul(x, x)), lambda t: torch.randn(128, 128, device=device)
    if name == "mlp":
        model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                    torch.nn.ReLU(), torch.nn.Linear(1024, 512)).to(device).eval()
        return model, lambda t: torch.randn(1, 512, device=device)
    print(f"threads_baseline.py: --workload '{name}' is not accepted; accepted: linear_relu, matmul128, mlp", file=sys.stderr)
    sys.exit(2)


def run(fn, make_input, threads, seconds):
    stop = threading.Event()
    counts = [0] * threads
    ready = threading.Barrier(threads + 1)

    def worker(t):
        x = make_input(t)
        ready.wait()
        n = 0
        with torch.no_grad():
            while not stop.is_set():
                y = fn(x)
                y.sum().item()  # the host read (and sync) per op
                n += 1
        counts[t] = n

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    ready.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for p in pool:
        p.join()
    return sum(counts) / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--workload", default="linear_relu")
    ap.add_argument("--threads", default="1,2,4,8")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repetitions", type=int, default=3)
    a = ap.parse_args()
    try:
        thread_counts = [int(t) for t in a.threads.split(",")]
        assert all(t >= 1 for t in thread_counts)
    except (ValueError, AssertionError):
        print(f"threads_baseline.py: --threads '{a.threads}' is not accepted; accepted: e.g. 1,2,4,8", file=sys.stderr)
        sys.exit(2)
    fn, make_input = make_workload(a.workload, a.device)
    run(fn, make_input, 1, 1.0)  # warm-up
    for t in thread_counts:
        reps = sorted(run(fn, make_input, t, a.seconds) for _ in range(a.repetitions))
        median = reps[len(reps) // 2]
        print(json.dumps({"source": "python-threading", "torch": torch.__version__, "device": a.device,
                          "workload": a.workload, "threads": t, "ops_s": round(median, 1),
                          "spread": round((reps[-1] - reps[0]) / median, 3)}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
