"""Profile-driven training-step benchmark (issue 8): where does a CPU training step spend its time, and what do
channels_last and torch.compile buy? All variants run interleaved in one process, same batch, same thread count;
each prints its median step time and its speed-up over eager (the ratios are what to compare — these machines
are noisy). The profile table (torch.profiler, top ops by self CPU time) is printed for the eager teacher step."""
import argparse, statistics, time
import torch
from torch.profiler import profile, ProfilerActivity
from kdfair_nb.models import create_kd_model, model_pair

ap = argparse.ArgumentParser()
ap.add_argument('--repeats', type=int, default=5)
ap.add_argument('--steps', type=int, default=5)
ap.add_argument('--compile', action='store_true', help='also time torch.compile (slow to warm up)')
args = ap.parse_args()

torch.manual_seed(0)
x = torch.randn(128, 3, 32, 32); y = torch.randint(0, 10, (128,))

def make(name, variant):
    m = create_kd_model(name, 10, seed=0); xx = x
    if variant in ('channels_last', 'compile+cl'):
        m = m.to(memory_format=torch.channels_last); xx = x.contiguous(memory_format=torch.channels_last)
    fwd = torch.compile(m) if variant.startswith('compile') else m
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    def step():
        loss = torch.nn.functional.cross_entropy(fwd(xx), y); opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(2): step()  # warm-up (and compilation)
    return step

variants = ['eager', 'channels_last'] + (['compile', 'compile+cl'] if args.compile else [])
for role, name in zip(('teacher', 'student'), model_pair('default')):
    steps = {v: make(name, v) for v in variants}
    times = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v, f in steps.items():
            t0 = time.perf_counter()
            for _ in range(args.steps): f()
            times[v].append((time.perf_counter() - t0) / args.steps)
    if role == 'teacher':
        with profile(activities=[ProfilerActivity.CPU]) as prof: steps['eager']()
        print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=8))
    base = statistics.median(times['eager'])
    for v in variants:
        med = statistics.median(times[v])
        print(f"{role:7s} {name:15s} {v:14s} {med * 1e3:8.1f} ms/step  speed-up vs eager {base / med:.2f}x")
