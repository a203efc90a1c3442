"""Benchmark 1 (issues 8, 15): what distillation costs per epoch, with the teacher-output cache and with the online teacher.

Same data (biased Trifeature, 32 px), same models (`model_pair('default')`: cifar_resnet32 teacher -> lenet5
student), batch 128, one process: one epoch of plain student training, of KD with the cache, and of KD with the
online teacher, repeated and interleaved (the order rotates every round; a first warm-up round of the two short
modes is not counted; the slow online mode joins the first `--online-repeats` rounds only); medians. On a shared
machine the load of other processes moves single epochs by a factor of several: compare the ratios of one run,
and look at the per-epoch list. The epoch time is the training phase (`before_train` -> `after_train`: every training batch,
forward, loss, backward, step); the whole `fit` (with `before_fit`, where the cache is looked up, and validation)
is shown too. The teacher is untrained: its cost does not depend on its weights. The one-off cost of filling the
cache (one batched pass of the teacher over the training set) is measured separately. Not a test.

The augmented case (issue 15, after FKD; `--views N`, 0 to skip it) runs in the same rounds: a plain student epoch
with `ReplayViews(N)` (each sample shown one of N fixed views per epoch), a KD epoch with the same `ReplayViews` and
the teacher's outputs for all N views cached (`cached_view_outputs`, filled once, measured separately), and KD with
the online teacher on the same views. Goal: the cached KD epoch with views within 1.15x of the plain one.

    .venv/bin/python bench/bench_kd_cache.py [--n-train 10000] [--repeats 5] [--online-repeats 3] [--views 4]
"""
import argparse, os, statistics, time, warnings

import torch
from fastai.callback.core import Callback

from kdfair_nb.data import make_biased_trifeature, fair_dataloaders
from kdfair_nb.models import create_kd_model, model_pair
from kdfair_nb.train import make_learner
from kdfair_nb.distill import (make_kd_callback, clear_teacher_cache, cached_teacher_outputs, cached_view_outputs,
                               ReplayViews, TEACHER_CACHE_STATS)


class TrainTimer(Callback):
    "Wall and process CPU time of the training phase of each epoch."
    order = 100
    def before_fit(self): self.times, self.cpu = [], []
    def before_train(self): self.t0, self.c0 = time.perf_counter(), time.process_time()
    def after_train(self):
        self.times.append(time.perf_counter() - self.t0); self.cpu.append(time.process_time() - self.c0)


def one_epoch(mode, teacher_name, student_name, dls, n_classes, lr=3e-3, views=0):
    teacher = create_kd_model(teacher_name, n_classes, seed=1).eval()
    cbs = [] if mode.startswith('plain') else [make_kd_callback('kd', teacher, cache=mode.endswith('cached'))]
    if 'views' in mode: cbs.append(ReplayViews(views, seed=0))
    timer = TrainTimer()
    learn = make_learner(create_kd_model(student_name, n_classes, seed=0), dls, cbs=cbs + [timer], lr=lr, seed=0)
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, lr)
    return timer.times[0], time.perf_counter() - t0, timer.cpu[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n-train', type=int, default=10_000)
    ap.add_argument('--n-valid', type=int, default=500)
    ap.add_argument('--bs', type=int, default=128)
    ap.add_argument('--repeats', type=int, default=5, help='counted epochs of plain and cached KD')
    ap.add_argument('--online-repeats', type=int, default=3, help='counted epochs of online KD (the slow one; 0: skip it)')
    ap.add_argument('--views', type=int, default=4, help='views per sample in the augmented case (0: skip it)')
    ap.add_argument('--cache-dir', default='.cache/bench', help='where the rendered data set is kept between runs')
    args = ap.parse_args()

    t_name, s_name = model_pair('default')
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average at start {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    tf = make_biased_trifeature(args.n_train, args.n_valid, 100, size=32, seed=0, cache_dir=args.cache_dir)
    print(f"data: {len(tf.train)} train / {len(tf.valid)} valid biased Trifeature at 32 px ({time.perf_counter() - t0:.1f}s)")
    dls = fair_dataloaders(tf.train, tf.valid, bs=args.bs)
    n_classes = tf.train.c
    print(f"teacher {t_name} -> student {s_name}, batch {args.bs}, {len(dls.train)} training batches per epoch")

    # one-off cost of filling the cache: one batched pass of the teacher over the training set
    clear_teacher_cache()
    teacher = create_kd_model(t_name, n_classes, seed=1).eval()
    t0 = time.perf_counter(); cached_teacher_outputs(teacher, dls.train); fill = time.perf_counter() - t0
    t0 = time.perf_counter(); cached_teacher_outputs(teacher, dls.train); lookup = time.perf_counter() - t0
    if args.views:  # the same for all views of every sample
        t0 = time.perf_counter(); vo = cached_view_outputs(teacher, dls.train, ReplayViews(args.views, seed=0))
        vfill = time.perf_counter() - t0

    modes = ['plain', 'kd cached', 'kd online']
    if args.views: modes += ['plain views', 'kd views cached', 'kd views online']
    online = [m for m in modes if m.endswith('online')]
    if args.online_repeats == 0: modes = [m for m in modes if m not in online]  # --online-repeats 0: skip them
    train_t = {m: [] for m in modes}; fit_t = {m: [] for m in modes}; cpu_t = {m: [] for m in modes}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for r in range(args.repeats + 1):  # round 0 warms up and is not counted
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            if r == 0 or r > args.online_repeats:  # the online epochs are long: no warm-up, fewer repeats
                order = [m for m in order if m not in online]
            for m in order:
                tt, ft, ct = one_epoch(m, t_name, s_name, dls, n_classes, views=args.views)
                if r: train_t[m].append(tt); fit_t[m].append(ft); cpu_t[m].append(ct)
            if r: print(f"round {r}: " + ", ".join(f"{m} {train_t[m][-1]:.2f}s" for m in order), flush=True)
            else: print("round 0 (warm-up) done", flush=True)
    med = {m: statistics.median(train_t[m]) for m in modes}; medf = {m: statistics.median(fit_t[m]) for m in modes}
    medc = {m: statistics.median(cpu_t[m]) for m in modes}
    print(f"\ncache fill (one teacher pass over {len(tf.train)} images, once per teacher and data set): {fill:.2f}s; "
          f"later look-ups (hashing teacher and data): {lookup * 1e3:.0f} ms; cache stats {TEACHER_CACHE_STATS}")
    if args.views:
        print(f"view cache fill ({args.views} views of each of {len(tf.train)} images, {args.views} teacher passes, once): "
              f"{vfill:.2f}s; {vo.nbytes / 2 ** 20:.1f} MiB")
    print(f"medians of the interleaved repeats ({args.repeats} plain and cached, {args.online_repeats} online; seconds):")
    print(f"{'':16s}{'train epoch':>12s}{'whole fit':>12s}{'epoch CPU':>12s}   all train epochs (CPU)")
    for m in modes:
        print(f"{m:16s}{med[m]:12.2f}{medf[m]:12.2f}{medc[m]:12.2f}   " +
              " ".join(f"{x:.2f} ({c:.2f})" for x, c in zip(train_t[m], cpu_t[m])))
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    pairs = [('kd cached', 'plain'), ('kd online', 'plain')]
    if args.views:
        pairs += [('kd views cached', 'plain views'), ('kd views online', 'plain views'), ('plain views', 'plain')]
    pairs = [(m, b) for m, b in pairs if m in modes]
    for m, base in pairs:
        print(f"ratio {m} / {base} (train epoch): {med[m] / med[base]:.3f}   (whole fit: "
              f"{medf[m] / medf[base]:.3f}, epoch CPU time: {medc[m] / medc[base]:.3f}, fastest epochs: "
              f"{min(train_t[m]) / min(train_t[base]):.3f})")


if __name__ == '__main__':
    main()
