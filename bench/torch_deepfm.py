"""PyTorch reference for bench/train-throughput.ts: our DeepFM (or Wide & Deep) training step in torch, same shapes.

Model (src/model/deepfm.ts, wd.ts, layers.ts): one field-embedding table [rows, d] (normal, std 0.01) and one
first-order table [rows, 1] (zeros) over the concatenated vocabularies of F fields; logit = sum of the sample's
first-order weights + Linear(numeric -> 1, no bias) + global bias + MLP([emb of the F fields flattened, numeric])
(ReLU hidden layers, Glorot weights, zero biases, then Linear(-> 1, no bias)) + for deepfm the FM second-order
term 0.5 * sum_k[(sum_f e_fk)^2 - sum_f e_fk^2]. Loss: mean BCE on logits. Dense weights: Adam.

Embedding update, as ours (src/optim/embed-update.ts) in the order L2, CowClip, Adam:
  dense: nn.Embedding with dense gradients; L2 gradient 2*lambda*W added on every row, CowClip over the whole
         table (rows absent from the batch with count 1), torch.optim.Adam over the whole table.
  lazy:  nn.Embedding(sparse=True); the coalesced gradient rows get 2*lambda*W and CowClip (counts of the
         batch), then torch.optim.SparseAdam (batch rows only).
CowClip (paper form, field table only): g_j *= min(1, cnt_j * max(r*||W_j||, zeta) / ||g_j||). Done with torch
tensor ops (no fused kernel exists); `cowclip: false` leaves it out.

Data: synthetic, generated before the timed loop: ids of field f drawn with P(rank r) ∝ (r+1)^-zipf over its
vocabulary (row offset_f + r + 1; row offset_f is the never-drawn OOV row, as in src/data/synthetic.ts),
numeric features log1p(floor(exp(N(mu, sd)))), labels Bernoulli(0.25).

Device: --device cuda (a command's "device": "cuda") puts the model, both tables and every batch on the GPU
(the data is drawn on the host with the same generator, then copied once, before the timed loop) and
synchronises the device before each timer read; cpu (the default) runs on torch.set_num_threads threads.

Standalone (one JSON line: {"torch", "python", "threads", "results": [{batch, mode, device, samplesPerSec, msPerStep, ...}]}):
    /usr/bin/python3 bench/torch_deepfm.py --rows 1000000 --batches 1024,8192 --modes dense,lazy --threads 1 [--device cuda]
Server (used by bench/train-throughput.ts, so repeats interleave with ours without re-importing torch): with
--serve, prints a hello line {"torch", "python", "cores", "cuda", "cudaDevice"} (cuda: torch.cuda.is_available(),
cudaDevice: its name or null), then answers each JSON command line read from stdin (the keys of run_case
below) with one line in the standalone format, holding one result.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
from torch import nn


class CtrNet(nn.Module):
    def __init__(self, rows, fields, dim, numeric, mlp, fm, sparse, init_std=1e-2):
        super().__init__()
        self.fields, self.dim, self.fm = fields, dim, fm
        self.emb = nn.Embedding(rows, dim, sparse=sparse)
        nn.init.normal_(self.emb.weight, 0.0, init_std)
        self.first = nn.Embedding(rows, 1, sparse=sparse)
        nn.init.zeros_(self.first.weight)
        self.numeric = nn.Linear(numeric, 1, bias=False) if numeric > 0 else None
        if self.numeric is not None:
            nn.init.zeros_(self.numeric.weight)
        self.bias = nn.Parameter(torch.zeros(1))
        layers, width = [], fields * dim + numeric
        for h in mlp:
            lin = nn.Linear(width, h)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.ReLU()]
            width = h
        out = nn.Linear(width, 1, bias=False)
        nn.init.xavier_uniform_(out.weight)
        self.dnn = nn.Sequential(*layers, out)

    def embedding_params(self):
        return [self.emb.weight, self.first.weight]

    def dense_params(self):
        emb = {id(p) for p in self.embedding_params()}
        return [p for p in self.parameters() if id(p) not in emb]

    def forward(self, ids, x):
        e = self.emb(ids)  # [B, F, d]
        z = self.first(ids).squeeze(-1).sum(1) + self.bias
        if self.numeric is not None:
            z = z + self.numeric(x).squeeze(-1)
        deep_in = torch.cat([e.flatten(1), x], 1) if x.shape[1] else e.flatten(1)
        z = z + self.dnn(deep_in).squeeze(-1)
        if self.fm:
            s = e.sum(1)
            z = z + 0.5 * (s * s - (e * e).sum(1)).sum(1)
        return z


def clip_rows(w, g, counts, ratio, zeta):
    """CowClip (paper form) of gradient rows g against weight rows w, in place: g_j *= min(1, t_j / ||g_j||)."""
    t = counts * torch.clamp(ratio * w.norm(dim=1), min=zeta)
    gn = g.norm(dim=1)
    scale = torch.where(gn > t, t / gn, torch.ones_like(gn))
    g.mul_(scale.unsqueeze(1))


class EmbeddingStep:
    """L2 + CowClip + (Sparse)Adam on the two tables, as src/optim/embed-update.ts."""

    def __init__(self, net, mode, lr, l2, cowclip, ratio, zeta):
        self.net, self.mode, self.l2, self.cowclip, self.ratio, self.zeta = net, mode, l2, cowclip, ratio, zeta
        params = net.embedding_params()
        self.opt = torch.optim.Adam(params, lr=lr, eps=1e-7) if mode == 'dense' else torch.optim.SparseAdam(params, lr=lr, eps=1e-7)

    def step(self, ids):
        emb, first = self.net.emb.weight, self.net.first.weight
        with torch.no_grad():
            if self.mode == 'dense':
                for p in (emb, first):
                    if self.l2:
                        p.grad.add_(p, alpha=2 * self.l2)
                if self.cowclip:
                    counts = torch.bincount(ids.flatten(), minlength=emb.shape[0]).clamp_(min=1).to(emb.dtype)
                    clip_rows(emb, emb.grad, counts, self.ratio, self.zeta)
            else:
                uniq, counts = (torch.unique(ids, sorted=True, return_counts=True) if self.cowclip else (None, None))
                for p, clip in ((emb, self.cowclip), (first, False)):
                    g = p.grad.coalesce()
                    rows, vals = g.indices()[0], g.values()
                    if self.l2:
                        vals = vals + 2 * self.l2 * p.index_select(0, rows)
                    if clip:
                        # coalesce() sorts the rows like torch.unique(sorted=True): counts line up.
                        clip_rows(p.index_select(0, rows), vals, counts.to(vals.dtype), self.ratio, self.zeta)
                    p.grad = torch.sparse_coo_tensor(g.indices(), vals, g.shape)._coalesced_(True)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


_cdf_cache = {}


def zipf_ids(field_sizes, zipf, n, gen):
    """[n, F] int64 ids: field f draws rank r with P ∝ (r+1)^-zipf; id = offset_f + r + 1 (offset_f is OOV)."""
    cols, offset = [], 0
    for size in field_sizes:
        vocab = size - 1
        key = (vocab, zipf)
        if key not in _cdf_cache:
            w = torch.arange(1, vocab + 1, dtype=torch.float64).pow(-zipf)
            cdf = torch.cumsum(w, 0)
            _cdf_cache[key] = cdf / cdf[-1]
        cdf = _cdf_cache[key]
        r = torch.searchsorted(cdf, torch.rand(n, generator=gen, dtype=torch.float64)).clamp_(max=vocab - 1)
        cols.append(r + offset + 1)
        offset += size
    return torch.stack(cols, 1)


def cuda_device_name():
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def make_data(field_sizes, zipf, numeric, n, seed):
    gen = torch.Generator().manual_seed(seed)
    ids = zipf_ids(field_sizes, zipf, n, gen)
    mu = torch.rand(numeric, generator=gen) * 4
    sd = 0.5 + torch.rand(numeric, generator=gen)
    x = torch.log1p(torch.floor(torch.exp(mu + sd * torch.randn(n, numeric, generator=gen))))
    y = (torch.rand(n, generator=gen) < 0.25).float()
    return ids, x, y


def run_case(cmd):
    """One timed run. Keys: batch, mode (dense|lazy), device (cpu|cuda), threads, steps, warmup, fieldSizes, zipf,
    numeric, embedDim, mlp, model (deepfm|wd), lr, lrEmbed, l2, cowclip, cowclipRatio, cowclipZeta, seed."""
    device = torch.device(cmd.get('device', 'cpu'))
    if device.type not in ('cpu', 'cuda'):
        raise ValueError(f'device {device}: expected cpu or cuda')
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'torch {torch.__version__} has no CUDA device (torch.cuda.is_available() is false)')
    # Timers read the host clock: on cuda, wait for the queued kernels first.
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    threads = int(cmd['threads'])
    torch.set_num_threads(threads)
    torch.manual_seed(cmd.get('seed', 1))
    batch, steps, warmup = int(cmd['batch']), int(cmd['steps']), int(cmd.get('warmup', 2))
    field_sizes = cmd['fieldSizes']
    numeric = int(cmd.get('numeric', 13))
    mode = cmd['mode']
    if mode not in ('dense', 'lazy'):
        raise ValueError(f'mode {mode!r}: expected dense or lazy')
    model = cmd.get('model', 'deepfm')
    if model not in ('deepfm', 'wd'):
        raise ValueError(f'model {model!r}: the torch reference has deepfm and wd')
    n = (warmup + steps) * batch
    ids, x, y = (t.to(device) for t in make_data(field_sizes, float(cmd.get('zipf', 1.1)), numeric, n, int(cmd.get('seed', 1))))
    rows = sum(field_sizes)
    net = CtrNet(rows, len(field_sizes), int(cmd.get('embedDim', 16)), numeric, cmd.get('mlp', [400, 400, 400]), model == 'deepfm', mode == 'lazy').to(device)
    dense_opt = torch.optim.Adam(net.dense_params(), lr=float(cmd.get('lr', 1e-3)), eps=1e-7)
    embed = EmbeddingStep(net, mode, float(cmd.get('lrEmbed', 3e-3)), float(cmd.get('l2', 1e-5)), bool(cmd.get('cowclip', True)),
                          float(cmd.get('cowclipRatio', 1.0)), float(cmd.get('cowclipZeta', 1e-5)))
    loss_fn = nn.BCEWithLogitsLoss()
    unique = 0
    t0 = 0.0
    for s in range(warmup + steps):
        if s == warmup:
            sync()
            t0 = time.perf_counter()
        b_ids, b_x, b_y = ids[s * batch:(s + 1) * batch], x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]
        loss = loss_fn(net(b_ids, b_x), b_y)
        dense_opt.zero_grad(set_to_none=True)
        loss.backward()
        dense_opt.step()
        embed.step(b_ids)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f'non-finite loss at step {s + 1}')
    sync()
    seconds = time.perf_counter() - t0
    for s in range(warmup, warmup + steps):
        unique += torch.unique(ids[s * batch:(s + 1) * batch]).numel()
    return {
        'model': model,
        'batch': batch,
        'mode': mode,
        'device': str(device),
        'cudaDevice': cuda_device_name() if device.type == 'cuda' else None,
        'threads': threads,
        'steps': steps,
        'warmup': warmup,
        'rows': rows,
        'cowclip': bool(cmd.get('cowclip', True)),
        'samplesPerSec': steps * batch / seconds,
        'msPerStep': seconds * 1e3 / steps,
        'uniqueIdsPerStep': unique / steps,
    }


def reply(results, threads):
    print(json.dumps({'torch': torch.__version__, 'python': sys.executable, 'threads': threads, 'results': results}), flush=True)


def serve():
    print(json.dumps({'torch': torch.__version__, 'python': sys.executable, 'cores': os.cpu_count(), 'cuda': torch.cuda.is_available(),
                      'cudaDevice': cuda_device_name()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            reply([run_case(cmd)], int(cmd['threads']))
        except Exception as e:  # reported to the caller, which skips this case and goes on
            print(json.dumps({'error': f'{type(e).__name__}: {e}'}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--serve', action='store_true', help='answer JSON commands on stdin (bench/train-throughput.ts)')
    ap.add_argument('--rows', type=int, default=1_000_000, help='embedding rows, split evenly over the fields')
    ap.add_argument('--fields', type=int, default=26)
    ap.add_argument('--batches', default='1024,8192')
    ap.add_argument('--modes', default='dense,lazy')
    ap.add_argument('--model', default='deepfm', choices=['deepfm', 'wd'])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--no-cowclip', action='store_true')
    a = ap.parse_args()
    if a.serve:
        return serve()
    sizes = [a.rows // a.fields + (1 if f < a.rows % a.fields else 0) for f in range(a.fields)]
    results = []
    for batch in [int(b) for b in a.batches.split(',')]:
        for mode in a.modes.split(','):
            results.append(run_case({'batch': batch, 'mode': mode, 'device': a.device, 'threads': a.threads, 'steps': a.steps, 'warmup': a.warmup,
                                     'fieldSizes': sizes, 'model': a.model, 'cowclip': not a.no_cowclip}))
            print(f'torch {a.model} batch {batch} {mode} on {a.device}: {results[-1]["samplesPerSec"]:.0f} samples/s', file=sys.stderr)
    reply(results, a.threads)


if __name__ == '__main__':
    main()
