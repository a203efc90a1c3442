"""Benchmark 2 (issue 8): the same KD job in kdfair and in torchdistill, side by side in one process.

Same job on both sides:
- data: biased Trifeature at 32 px (`make_biased_trifeature`, `--n-train` train / `--n-test` test; no augmentation);
- teacher: `cifar_resnet32` (seed 1) trained once by kdfair for `--teacher-epochs` (one-cycle; `0` keeps the random
  init); its weights are cached in `--cache-dir` and loaded into one copy per side (the SAME weights, eval mode);
- student: `lenet5` created by `create_kd_model(..., seed=0)` for each side (the same init);
- loss: `(1 - alpha) * CE + alpha * T^2 * KL(batchmean)` with T=4, alpha=0.9 (torchdistill's `KDLoss` weights
  the CE by its `alpha`, so it gets `alpha=0.1, beta=0.9`); the two losses are checked equal on one batch;
- optimiser: Adam, lr `--lr` constant (no schedule), betas (0.9, 0.99), eps 1e-5, no weight decay (fastai's Adam
  defaults, set explicitly in torch's `Adam` for torchdistill); batch 128 with the last partial batch dropped;
- CPU, `torch.set_num_threads(--threads)` for both, no data-loader workers.

kdfair runs as a kdfair user runs it: `make_learner` (fastai `Learner`, channels_last) with
`make_kd_callback('kd', teacher)` over `fair_dataloaders`; the callback caches the frozen teacher's logits once per
(teacher, data set) and reads them by sample index, so the teacher never runs during the epochs. The one-off
cache fill (one batched teacher pass over the training set) is timed separately and included in the whole-job
throughput.

torchdistill (installed by `bench/setup_torchdistill.sh` into `.bench/site`, never into the project) runs as a
torchdistill user runs it: its `DistillationBox` from `get_distillation_box` with a config dict (what its yaml files
hold): `WeightedSumLoss` over the registry's `KDLoss` on the models' outputs (module path '.'), its optimiser
registry, its data-loader builder over a map-style `TensorDataset` of pre-normalised images (torchdistill wraps it
in its `BaseDatasetWrapper`; a `RandomSampler` with a seeded generator), and the epoch loop of torchdistill's
example `image_classification.py` (`pre_epoch_process` / `forward_process` / `post_forward_process` /
`post_epoch_process`). Its teacher runs online on every batch (torchdistill 1.1.5 has no teacher-output cache)
and its models stay in the default NCHW memory format (`--td-channels-last` gives it channels_last too).

Timing: the two students are trained epoch by epoch, interleaved (kdfair epoch, torchdistill epoch, the order
rotated every epoch; kdfair's `Learner.fit(1)` is called once per epoch, which with a constant learning rate and
a kept optimiser is the same training as `fit(epochs)`). An epoch's time is its training phase (every training
batch: data, forward, loss, backward, step; kdfair's validation and per-fit cache look-up are reported apart).
Throughput = training images / median epoch time (also by process CPU time, less moved by other processes,
and by the fastest epoch); the whole-job throughput also counts kdfair's cache fill and
kdfair's per-fit overhead (validation on `--n-valid` images, cache look-ups). Test accuracy: kdfair's `predict`
on the same test set for both students. On a shared machine other processes move single epochs a lot: the load
average is printed. To tell the cache's share from the framework's, the last `--online-epochs` epochs also time
kdfair with the teacher online (`cache=False`, the same work per batch as torchdistill; timing only). Not a test.

    bash bench/setup_torchdistill.sh
    .venv/bin/python bench/bench_torchdistill.py [--epochs 3] [--n-train 4000] [--teacher-epochs 2]
"""
import argparse, hashlib, os, statistics, sys, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / '.bench' / 'site'
sys.path.insert(0, str(SITE))  # torchdistill lives here only (bench/setup_torchdistill.sh)

import torch
import torch.nn.functional as F
from fastai.callback.core import Callback

from kdfair_nb.data import make_biased_trifeature, fair_dataloaders
from kdfair_nb.models import create_kd_model, model_pair
from kdfair_nb.train import make_learner, train_model, predict, seed_everything
from kdfair_nb.distill import make_kd_callback, cached_teacher_outputs, clear_teacher_cache, TEACHER_CACHE_STATS

try:
    import torchdistill
    from torchdistill.core.distillation import get_distillation_box
except ImportError as e:
    sys.exit(f"torchdistill is not installed in {SITE} ({e}): run `bash bench/setup_torchdistill.sh` first")


class PhaseTimer(Callback):
    "Wall and process CPU time of the training phase, and wall time of the validation phase, of each epoch."
    order = 100
    def before_fit(self): self.train_t, self.train_c, self.valid_t = [], [], []
    def before_train(self): self.t0, self.c0 = time.perf_counter(), time.process_time()
    def after_train(self):
        self.train_t.append(time.perf_counter() - self.t0); self.train_c.append(time.process_time() - self.c0)
    def before_validate(self): self.t1 = time.perf_counter()
    def after_validate(self): self.valid_t.append(time.perf_counter() - self.t1)


def get_teacher(name, data, n_classes, epochs, lr, cache_dir):
    "The teacher's state dict: trained by kdfair for `epochs` (cached on disk), or the seed-1 init for 0."
    teacher = create_kd_model(name, n_classes, seed=1)
    if epochs == 0: return teacher.state_dict(), 0.
    key = hashlib.sha1(f"{name}|{data.train.fingerprint()}|{epochs}|{lr}".encode()).hexdigest()[:12]
    path = Path(cache_dir) / f'teacher_{key}.pt'
    if path.exists(): return torch.load(path, weights_only=True), 0.
    t0 = time.perf_counter()
    dls = fair_dataloaders(data.train, data.valid, bs=128, seed=1)
    train_model(teacher, dls, epochs=epochs, lr=lr, seed=1, progress=False)
    sd = {k: v.contiguous() for k, v in teacher.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True); torch.save(sd, path)
    return sd, time.perf_counter() - t0


def fresh(name, n_classes, sd):
    "A new NCHW model with the weights `sd`, in eval mode."
    m = create_kd_model(name, n_classes); m.load_state_dict(sd); return m.eval()


def td_config(epochs, bs, lr, T, alpha, seed):
    "torchdistill's train config (the dict its yaml files hold) for classic KD."
    return {
        'num_epochs': epochs,
        'train_data_loader': {
            'dataset_id': 'train', 'requires_supp': True,
            'sampler': {'class_or_func': torch.utils.data.RandomSampler,
                        'kwargs': {'generator': torch.Generator().manual_seed(seed)}},
            'kwargs': {'batch_size': bs, 'num_workers': 0, 'drop_last': True}},
        'teacher': {'forward_proc': 'forward_batch_only', 'sequential': [], 'requires_grad': False},
        'student': {'forward_proc': 'forward_batch_only', 'sequential': [], 'frozen_modules': []},
        'optimizer': {'key': 'Adam', 'kwargs': {'lr': lr, 'betas': (0.9, 0.99), 'eps': 1e-5, 'weight_decay': 0.}},
        'criterion': {'key': 'WeightedSumLoss', 'kwargs': {'sub_terms': {'kd': {
            'criterion': {'key': 'KDLoss', 'kwargs': {
                'student_module_path': '.', 'student_module_io': 'output',
                'teacher_module_path': '.', 'teacher_module_io': 'output',
                'temperature': T, 'alpha': 1 - alpha, 'beta': alpha, 'reduction': 'batchmean'}},
            'weight': 1.0}}}},
    }


def td_train_one_epoch(box, epoch):
    "One epoch as in torchdistill's examples/torchvision/image_classification.py (without its metric logger)."
    box.pre_epoch_process(epoch=epoch)
    for sample_batch, targets, supp_dict in box.train_data_loader:
        sample_batch, targets = sample_batch.to(box.device), targets.to(box.device)
        loss = box.forward_process(sample_batch, targets, supp_dict)
        box.post_forward_process(loss=loss)
    box.post_epoch_process()


def accuracy(model, ds):
    df = predict(model, ds)
    return float((df['pred'] == df['y']).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--epochs', type=int, default=3, help='KD epochs of each student (each one timed)')
    ap.add_argument('--n-train', type=int, default=4_000)
    ap.add_argument('--n-valid', type=int, default=500, help="kdfair's per-epoch validation set")
    ap.add_argument('--n-test', type=int, default=2_000)
    ap.add_argument('--teacher-epochs', type=int, default=2, help='kdfair training of the teacher (0: random init)')
    ap.add_argument('--bs', type=int, default=128)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--T', type=float, default=4.)
    ap.add_argument('--alpha', type=float, default=0.9, help='weight of the T^2 KL term; 1 - alpha on the CE')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--online-epochs', type=int, default=1,
                    help='also time this many epochs of kdfair with the teacher online (cache=False), interleaved')
    ap.add_argument('--noise-seeds', type=int, default=3,
                    help="extra kdfair KD runs with other data-order seeds, to show the accuracy's run-to-run spread")
    ap.add_argument('--td-channels-last', action='store_true', help='give torchdistill channels_last models too')
    ap.add_argument('--cache-dir', default=str(ROOT / '.cache' / 'bench'), help='rendered data and teacher weights')
    args = ap.parse_args()
    if args.epochs < 1: ap.error('--epochs must be at least 1')

    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    t_name, s_name = model_pair('default')
    print(f"torch {torch.__version__}, torchdistill {torchdistill.__version__}, {torch.get_num_threads()} threads "
          f"on {os.cpu_count()} cores; load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    t0 = time.perf_counter()
    data = make_biased_trifeature(args.n_train, args.n_valid, args.n_test, size=32, seed=0, cache_dir=args.cache_dir)
    n_classes = data.train.c
    print(f"data: biased Trifeature 32 px, {len(data.train)} train / {len(data.valid)} valid / {len(data.test)} test "
          f"({time.perf_counter() - t0:.1f}s)")
    sd, t_train = get_teacher(t_name, data, n_classes, args.teacher_epochs, args.lr, args.cache_dir)
    t_acc = accuracy(fresh(t_name, n_classes, sd), data.test)
    how = (f"trained {args.teacher_epochs} epochs by kdfair" + (f" ({t_train:.0f}s)" if t_train else " (cached)")
           if args.teacher_epochs else "random init (seed 1)")
    print(f"teacher {t_name}: {how}, test accuracy {t_acc:.3f}; student {s_name} (seed 0); batch {args.bs}, "
          f"Adam lr {args.lr} constant, T={args.T}, alpha={args.alpha}, {args.epochs} epochs")

    # ---- kdfair: fastai Learner + KD callback (teacher-output cache)
    dls = fair_dataloaders(data.train, data.valid, bs=args.bs, seed=0)
    kd_teacher = fresh(t_name, n_classes, sd)
    kd_cb = make_kd_callback('kd', kd_teacher, T=args.T, alpha=args.alpha)
    timer = PhaseTimer()
    kd_student = create_kd_model(s_name, n_classes, seed=0)
    learn = make_learner(kd_student, dls, cbs=[kd_cb, timer], lr=args.lr, wd=0., seed=0)
    n_on = min(args.online_epochs, args.epochs)
    if n_on:  # kdfair without the cache: the teacher runs on every batch, as in torchdistill
        on_timer = PhaseTimer()
        on_learn = make_learner(create_kd_model(s_name, n_classes, seed=0), dls, lr=args.lr, wd=0., seed=0,
                                cbs=[make_kd_callback('kd', fresh(t_name, n_classes, sd), T=args.T, alpha=args.alpha,
                                                      cache=False), on_timer])
    clear_teacher_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    cached_teacher_outputs(kd_teacher, dls.train)
    fill, fill_c = time.perf_counter() - t0, time.process_time() - c0

    # ---- torchdistill: DistillationBox from a config dict
    mean, std = (torch.tensor(s).view(1, -1, 1, 1) for s in data.train.stats)
    x_train = (data.train.x.float() / 255 - mean) / std
    train_set = torch.utils.data.TensorDataset(x_train, data.train.y)
    td_teacher, td_student = fresh(t_name, n_classes, sd), create_kd_model(s_name, n_classes, seed=0)
    if args.td_channels_last:
        td_teacher.to(memory_format=torch.channels_last); td_student.to(memory_format=torch.channels_last)
    seed_everything(0)
    box = get_distillation_box(td_teacher, td_student, {'train': train_set},
                               td_config(args.epochs, args.bs, args.lr, args.T, args.alpha, seed=0),
                               torch.device('cpu'), None, False, 1)

    # the two losses on the same batch, same models: must agree
    with torch.no_grad():
        xb, yb = x_train[:args.bs], data.train.y[:args.bs]
        s_out, t_out = td_student(xb), td_teacher(xb)
        _, terms = kd_cb.distill_loss(s_out, t_out, None, yb)
        l_kd = (1 - args.alpha) * F.cross_entropy(s_out, yb) + args.alpha * terms['kd']
        l_td = box.criterion({'student': {'.': {'output': s_out}}, 'teacher': {'.': {'output': t_out}}}, {}, yb)
    print(f"loss check on one batch (same models): kdfair {l_kd.item():.6f}, torchdistill {l_td.item():.6f}")
    if not torch.allclose(l_kd, l_td, rtol=1e-4, atol=1e-6): sys.exit("the two KD losses differ: fix the set-up")

    # ---- interleaved epochs
    n_img = len(dls.train) * args.bs
    assert n_img == len(box.train_data_loader) * args.bs
    kd_t, kd_fit, td_t, on_t, kd_c, td_c, on_c = [], [], [], [], [], [], []
    times = {'kdfair': kd_t, 'torchdistill': td_t, 'kdfair online': on_t}
    for e in range(args.epochs):
        order = ['kdfair', 'torchdistill'] + (['kdfair online'] if e >= args.epochs - n_on else [])
        order = order[e % len(order):] + order[:e % len(order)]
        for side in order:
            if side == 'kdfair online':
                with on_learn.no_bar(), on_learn.no_logging(): on_learn.fit(1, args.lr)
                on_t.append(on_timer.train_t[0]); on_c.append(on_timer.train_c[0])
            elif side == 'kdfair':
                t0 = time.perf_counter()
                with learn.no_bar(), learn.no_logging(): learn.fit(1, args.lr)
                kd_fit.append(time.perf_counter() - t0); kd_t.append(timer.train_t[0]); kd_c.append(timer.train_c[0])
            else:
                t0, c0 = time.perf_counter(), time.process_time()
                td_train_one_epoch(box, e)
                td_t.append(time.perf_counter() - t0); td_c.append(time.process_time() - c0)
        print(f"epoch {e + 1}: " + ", ".join(f"{s} {times[s][-1]:.2f}s" for s in order)
              + f"   (load {os.getloadavg()[0]:.2f})", flush=True)

    acc_kd, acc_td = accuracy(learn.model, data.test), accuracy(box.student_model, data.test)
    se = ((acc_kd * (1 - acc_kd) + acc_td * (1 - acc_td)) / len(data.test)) ** 0.5
    spread = []
    for s in range(1, args.noise_seeds + 1):  # the same KD job in kdfair, other data orders (cheap: cached teacher)
        lrn = make_learner(create_kd_model(s_name, n_classes, seed=0), dls, lr=args.lr, wd=0., seed=s,
                           cbs=[make_kd_callback('kd', kd_teacher, T=args.T, alpha=args.alpha)])
        with lrn.no_bar(), lrn.no_logging(): lrn.fit(args.epochs, args.lr)
        spread.append(accuracy(lrn.model, data.test))
    med = statistics.median
    med_kd, med_td = med(kd_t), med(td_t)
    job_kd = fill + sum(kd_fit)  # cache fill + every fit (training, validation, cache look-ups)
    job_td = sum(td_t)
    n_all = n_img * args.epochs
    print(f"\ncache fill (kdfair, once per teacher and data set): {fill:.2f}s wall, {fill_c:.2f}s CPU; kdfair per-fit "
          f"overhead (validation of {len(data.valid)} images + cache look-up), median: "
          f"{med(f - t for f, t in zip(kd_fit, kd_t)):.2f}s; cache stats {TEACHER_CACHE_STATS}")
    print("throughput in training images per second of one epoch's training phase: wall (median epoch), wall of the "
          "fastest epoch, process CPU time (median epoch); whole job = all epochs (+ kdfair's cache fill and fits)")
    print(f"{'':14s}{'epoch s':>9s}{'img/s':>8s}{'fastest':>9s}{'img/CPU-s':>10s}{'job s':>8s}{'job img/s':>10s}"
          f"{'test acc':>9s}   epochs wall (CPU) s")
    rows = [('kdfair', kd_t, kd_c, job_kd, f"{acc_kd:9.3f}"), ('torchdistill', td_t, td_c, job_td, f"{acc_td:9.3f}")]
    if on_t: rows.append(('kdfair online', on_t, on_c, None, '   timing only (teacher online, no cache)'))
    for nm, ts, cs, job, tail in rows:
        js = f"{job:8.1f}{n_all / job:10.0f}" if job else f"{'':18s}"
        print(f"{nm:14s}{med(ts):9.2f}{n_img / med(ts):8.0f}{n_img / min(ts):9.0f}{n_img / med(cs):10.0f}{js}"
              + (tail if job else f"{'':9s}") + "   " + " ".join(f"{t:.2f} ({c:.2f})" for t, c in zip(ts, cs))
              + ("" if job else tail))
    print(f"test accuracy difference kdfair - torchdistill: {acc_kd - acc_td:+.3f} (binomial s.e. of the difference on "
          f"{len(data.test)} test images ~{se:.3f}; the two runs also differ in data order)")
    if spread:
        accs = [acc_kd] + spread
        print(f"run-to-run spread: kdfair KD test accuracy over {len(accs)} data-order seeds (same init): "
              + " ".join(f"{a:.3f}" for a in accs) + f"  (range {max(accs) - min(accs):.3f}, "
              f"sd {statistics.stdev(accs):.3f}); torchdistill {acc_td:.3f}")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if on_t:
        print(f"without the cache (framework alone): ratio kdfair online/torchdistill throughput "
              f"{med_td / med(on_t):.2f}x wall, {med(td_c) / med(on_c):.2f}x CPU, {min(td_t) / min(on_t):.2f}x fastest")
    print(f"ratio kdfair/torchdistill throughput: {med_td / med_kd:.2f}x (median epoch wall; "
          f"{med(td_c) / med(kd_c):.2f}x CPU time, {min(td_t) / min(kd_t):.2f}x fastest epochs; "
          f"{job_td / job_kd:.2f}x whole job with kdfair's cache fill and validation)")


if __name__ == '__main__':
    main()
