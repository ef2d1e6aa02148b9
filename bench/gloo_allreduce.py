"""torch.distributed gloo all-reduce, timed exactly like bench/allreduce.ts times ours.

Per size: WARMUP untimed calls, then ITERS timed calls (same formula as the TypeScript bench), each after a
barrier; an iteration's time is the slowest rank's (all-reduce MAX of the per-rank times) and the median is
reported. Ranks are separate processes (torch.multiprocessing, spawn) meeting at tcp://127.0.0.1:PORT.

    python3 bench/gloo_allreduce.py '[2,4]' '[4096,65536]' 3
prints one JSON line: {"torch": version, "python": path, "results": {"2": [{"bytes": ..., "seconds": ...}]}}
Run by bench/allreduce.ts; usable alone.
"""
import json
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def iterations_for(nbytes):
    # Keep in step with iterationsFor() in bench/allreduce.ts.
    return max(5, min(50, round(2 ** 28 / nbytes)))


def run(rank, n, port, sizes, warmup, q):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=n)
    rows = []
    for nbytes in sizes:
        t = torch.ones(nbytes // 4, dtype=torch.float32)
        for _ in range(warmup):
            dist.all_reduce(t)
        times = []
        for _ in range(iterations_for(nbytes)):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        slowest = torch.tensor(times, dtype=torch.float64)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        rows.append({'bytes': nbytes, 'iterations': len(times), 'seconds': statistics.median(slowest.tolist())})
    if rank == 0:
        q.put(rows)
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


if __name__ == '__main__':
    ranks, sizes, warmup = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
    results = {}
    for n in ranks:
        q = mp.get_context('spawn').SimpleQueue()
        mp.spawn(run, args=(n, free_port(), sizes, warmup, q), nprocs=n)
        results[str(n)] = q.get()
    print(json.dumps({'torch': torch.__version__, 'python': sys.executable, 'results': results}))
