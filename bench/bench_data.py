"""Benchmark 3: the data pipeline.

Measures, in one run: (a) generation time of biased Trifeature (10k train images at 32 px) and images/s;
(b) images/s that the training DataLoader (kdfair's TensorDL) delivers; (c) images/s that one training step of the
default student (LeNet-5) and teacher (ResNet-32) consume. The loader must never be the bottleneck: the last line
prints loader throughput / training throughput (must be >> 1)."""
import time
import torch
from kdfair_nb.data import make_biased_trifeature, fair_dataloaders
from kdfair_nb.models import create_kd_model, model_pair

def best(f, n=3):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

t_gen = best(lambda: make_biased_trifeature(10_000, 0, 0, size=32, seed=0), n=2)
print(f"generate 10k biased Trifeature images (32 px): {t_gen:.2f} s = {10_000 / t_gen:,.0f} images/s")
data = make_biased_trifeature(10_000, 1000, 0, size=32, seed=0)
dls = fair_dataloaders(data.train, data.valid, bs=128, seed=0)
def one_pass():
    for b in dls.train: pass
t_load = best(one_pass)
n_img = len(dls.train) * 128
print(f"TensorDL: one epoch of batches in {t_load:.3f} s = {n_img / t_load:,.0f} images/s")
ratios = {}
for role, name in zip(('teacher', 'student'), model_pair('default')):
    m = create_kd_model(name, 10, seed=0); opt = torch.optim.Adam(m.parameters(), 1e-3)
    x, y = dls.train.one_batch()[:2]
    def step():
        loss = torch.nn.functional.cross_entropy(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
    step()
    t = best(lambda: [step() for _ in range(5)]) / 5
    print(f"{role} {name}: training step {t * 1e3:.1f} ms = {128 / t:,.0f} images/s")
    ratios[role] = (n_img / t_load) / (128 / t)
print(f"loader / training throughput: student {ratios['student']:.1f}x, teacher {ratios['teacher']:.1f}x (must be > 1)")
