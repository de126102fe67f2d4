#!/usr/bin/env python3
"""What users write today, the seed's loop: the suite's workloads run from Python `threading` threads
on the box's own PyTorch, the op and a sync per op (--sync device: torch.cuda.synchronize(), as the
seed's script; stream: the thread's stream), on the default stream or a stream per thread
(--streams). Prints ops/s per thread count, for comparison with the suite's C++ runner in
docs/benchmarks.md. No value checks here: this is the baseline's speed.

    python3 tools/python_baseline/threads_baseline.py --device cuda --threads 1,8 --streams per-thread
"""
import argparse
import contextlib
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


def sync_fn(device, sync):
    """The per-op sync of the seed's loop on `device`."""
    if device.startswith("cuda"):
        return torch.cuda.synchronize if sync == "device" else (lambda: torch.cuda.current_stream().synchronize())
    if device == "mps":
        return torch.mps.synchronize
    return lambda: None


def run(fn, make_input, threads, seconds, sync, per_thread_stream):
    stop = threading.Event()
    counts = [0] * threads
    ready = threading.Barrier(threads + 1)

    def worker(t):
        x = make_input(t)
        stream = torch.cuda.Stream() if per_thread_stream else None
        ready.wait()
        n = 0
        with torch.no_grad(), (torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()):
            while not stop.is_set():
                fn(x)
                sync()
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
    ap.add_argument("--sync", default="device", choices=["device", "stream"])
    ap.add_argument("--streams", default="shared", choices=["shared", "per-thread"])
    a = ap.parse_args()
    per_thread = a.streams == "per-thread"
    if per_thread and not a.device.startswith("cuda"):
        print(f"threads_baseline.py: --streams per-thread needs --device cuda, not '{a.device}'", file=sys.stderr)
        sys.exit(2)
    sync = sync_fn(a.device, a.sync)
    try:
        thread_counts = [int(t) for t in a.threads.split(",")]
        assert all(t >= 1 for t in thread_counts)
    except (ValueError, AssertionError):
        print(f"threads_baseline.py: --threads '{a.threads}' is not accepted; accepted: e.g. 1,2,4,8", file=sys.stderr)
        sys.exit(2)
    fn, make_input = make_workload(a.workload, a.device)
    run(fn, make_input, 1, 1.0, sync, per_thread)  # warm-up
    for t in thread_counts:
        reps = sorted(run(fn, make_input, t, a.seconds, sync, per_thread) for _ in range(a.repetitions))
        median = reps[len(reps) // 2]
        print(json.dumps({"source": "python-threading", "torch": torch.__version__, "device": a.device,
                          "workload": a.workload, "sync": a.sync, "streams": a.streams, "threads": t, "ops_s": round(median, 1),
                          "spread": round((reps[-1] - reps[0]) / median, 3)}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
