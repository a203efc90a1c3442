"""GPU check: how fast the study's real model pairs train on this machine, in at most `--budget-s` seconds.

On synthetic tensors of the real shapes (random pixels and labels; the speed of a step does not depend on them):
  cifar  CIFAR-100, 32 px, 100 classes, cifar_resnet56 -> cifar_resnet20, batch 128
  wider  WIDER Attribute, 226 px, 16 classes (REFERENCE §2), efficientnet_b3 -> efficientnet_b0 (timm, no
         pretrained weights), batch 128 (REFERENCE §2)
it measures images/s and peak memory of
  plain loops (torch only, the library's models and `kd_loss`; what the device can do):
    teacher_inference, teacher_train_step, student_train_step, kd_cached_step (teacher logits given),
    kd_online_step (the teacher's forward in every step);
  the library (`kdfair_nb.train.make_learner` + fastai `fit` on a `TensorFairDataset` through `TensorDL`, with
  `KDCallback` cached or online; what a study run gets, fastai's per-batch overhead and the loader included):
    library_student, library_kd_cached, library_kd_online;
  loader: the training DataLoader alone, batches moved to the device, rate from the first batch on: `TensorDL`
    over the in-memory set (as the experiments load every data set by default);
  loader_decoded (wider only): `FairImageDataset` decoding 64 generated 640x480 JPEGs, listed over and over, with
    automatic workers and pinning, as `in_memory=False` runs do;
and estimates the time of one seed-000 CIFAR run: a distilled ResNet-20 trained for `--cifar-epochs` epochs on
45,000 images (CIFAR-100's 50,000 less the library's 10% validation hold-out) at library_kd_cached images/s, plus
the teacher's cached pass at teacher_inference images/s.

On CUDA steps run under bf16 autocast (`precision='auto'`) with channels_last and cuDNN in the deterministic mode
every study run uses (`seed_everything`: no autotuning); peak memory is
`torch.cuda.max_memory_allocated` per measurement. On the CPU: fp32, and the peak resident set size (VmHWM, reset per
measurement where Linux allows). Every measurement gets an equal share of the time left; a loop stops at its share,
and a measurement that no longer fits the budget is recorded as skipped. Prints a markdown table, writes `--out`.

  python bench/gpu_check.py --device auto --out gpu_check.json     # the real check (one GPU, <= 8 minutes)
  python bench/gpu_check.py --tiny --device cpu --out /tmp/g.json  # tiny sizes, the test's run
"""
import time
T_START = time.perf_counter()  # the budget counts from here: imports and CUDA start-up included
import argparse, json, platform, tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from fastai.callback.core import Callback, CancelTrainException

from kdfair_nb.data import WIDER_CLUSTERS, FairImageDataset, TensorFairDataset, fair_dataloaders
from kdfair_nb.distill import KDCallback, kd_loss
from kdfair_nb.models import create_kd_model
from kdfair_nb.train import default_device, make_learner, predict, resolve_precision, seed_everything

PLAIN = ('teacher_inference', 'teacher_train_step', 'student_train_step', 'kd_cached_step', 'kd_online_step')
LIBRARY = ('library_student', 'library_kd_cached', 'library_kd_online')
MEASURES = PLAIN + LIBRARY + ('loader', 'loader_decoded')
CIFAR_TRAIN = 45_000  # CIFAR-100's 50,000 training images less the 10% validation hold-out (`load_splits`)
T, ALPHA = 4.0, 0.9   # REFERENCE §2 / §6


def pairs(tiny: bool) -> dict:
    if tiny:
        return {'cifar': dict(teacher='cifar_resnet56', student='cifar_resnet20', px=16, classes=100, bs=4,
                              warmup=1, steps=1, jpeg=None),
                'wider': dict(teacher='efficientnet_b3', student='efficientnet_b0', px=32, classes=len(WIDER_CLUSTERS),
                              bs=2, warmup=1, steps=1, jpeg=(4, 8, 40, 30))}
    return {'cifar': dict(teacher='cifar_resnet56', student='cifar_resnet20', px=32, classes=100, bs=128,
                          warmup=5, steps=50, jpeg=None),
            'wider': dict(teacher='efficientnet_b3', student='efficientnet_b0', px=226, classes=len(WIDER_CLUSTERS),
                          bs=128, warmup=3, steps=30, jpeg=(64, 3072, 640, 480))}


class Budget:
    "Wall-clock budget (from the script's start) shared equally by the measurements not yet run."
    def __init__(self, seconds: float, n: int): self.end, self.left = T_START + seconds, n
    def remaining(self) -> float: return self.end - time.perf_counter()
    def share(self) -> float:
        s = self.remaining() / max(1, self.left); self.left -= 1
        return s


class Device:
    def __init__(self, dev: torch.device):
        self.dev, self.cuda = dev, dev.type == 'cuda'
        self.precision = resolve_precision('auto', dev)
    def sync(self):
        if self.cuda: torch.cuda.synchronize(self.dev)
    def autocast(self):
        return torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.precision == 'bf16')
    def reset_peak(self):
        if self.cuda: torch.cuda.reset_peak_memory_stats(self.dev); return
        try: Path('/proc/self/clear_refs').write_text('5')  # resets VmHWM (Linux)
        except OSError: pass
    def peak(self) -> int:
        if self.cuda: return int(torch.cuda.max_memory_allocated(self.dev))
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith('VmHWM:'): return int(line.split()[1]) * 1024
        import resource
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def timed_loop(d: Device, step, bs: int, warmup: int, steps: int, seconds: float) -> dict:
    "Run `step` `warmup` times, then up to `steps` times or until `seconds` have passed (at least once); images/s."
    d.reset_peak(); t_start = time.perf_counter()
    for i in range(warmup):  # at least one warm-up step; the rest only within half the share
        step(); d.sync()
        if time.perf_counter() - t_start > seconds / 2: break
    d.sync(); t0 = time.perf_counter(); n = 0
    while n < steps and (n == 0 or time.perf_counter() - t_start < seconds):
        step(); n += 1
        if d.cuda and n % 5 == 0: d.sync()  # bound the queue so the time check means something
    d.sync(); dt = time.perf_counter() - t0
    return dict(images_s=n * bs / dt, steps=n, seconds=dt, peak_mem_bytes=d.peak())


def model(cfg, role: str, d: Device):
    "The pair's teacher or student on the device, channels_last, as `make_learner` puts it."
    m = create_kd_model(cfg[role], cfg['classes'], seed=0 if role == 'teacher' else 1)
    return m.to(d.dev, memory_format=torch.channels_last)


def plain(name, cfg, d: Device, seconds: float) -> dict:
    "One of the plain-loop measurements."
    g = torch.Generator().manual_seed(0)
    x = torch.randn(cfg['bs'], 3, cfg['px'], cfg['px'], generator=g).to(d.dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, cfg['classes'], (cfg['bs'],), generator=g).to(d.dev)
    teacher = model(cfg, 'teacher', d) if name != 'student_train_step' else None
    if name == 'teacher_inference':
        teacher.eval()
        def step():
            with torch.no_grad(), d.autocast(): teacher(x)
    else:
        net = teacher if name == 'teacher_train_step' else model(cfg, 'student', d)
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        if name.startswith('kd_'):
            teacher.eval()
            with torch.no_grad(), d.autocast(): t_cached = teacher(x).float()
        def step():
            with d.autocast():
                logits = net(x).float(); loss = F.cross_entropy(logits, y)
                if name == 'kd_cached_step': loss = (1 - ALPHA) * loss + ALPHA * kd_loss(logits, t_cached, T)
                elif name == 'kd_online_step':
                    with torch.no_grad(): t_logits = teacher(x).float()
                    loss = (1 - ALPHA) * loss + ALPHA * kd_loss(logits, t_logits, T)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return timed_loop(d, step, cfg['bs'], cfg['warmup'], cfg['steps'], seconds)


class _TrainTimer(Callback):
    "Times training batches after `warmup` of them; stops training after `steps` timed batches or `seconds`."
    order = 100
    def __init__(self, d: Device, warmup: int, steps: int, seconds: float):
        self.d, self.warmup, self.steps, self.seconds = d, warmup, steps, seconds
    def before_train(self): self.n, self.t_start, self.t0, self.dt = 0, time.perf_counter(), None, None
    def after_batch(self):
        if not self.training: return
        self.n += 1
        if self.n == self.warmup: self.d.sync(); self.t0 = time.perf_counter()
        timed = self.n - self.warmup
        if timed >= self.steps or (timed > 0 and time.perf_counter() - self.t_start > self.seconds):
            raise CancelTrainException()
    def after_train(self):
        self.d.sync()
        if self.t0 is not None: self.dt = time.perf_counter() - self.t0


def synthetic_set(n, cfg, seed=0) -> TensorFairDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, cfg['px'], cfg['px']), dtype=torch.uint8, generator=g)
    y = torch.arange(n) % cfg['classes']
    return TensorFairDataset(x, y, torch.arange(n) % 2, [str(i) for i in range(cfg['classes'])],
                             stats=((0.5,) * 3, (0.25,) * 3))


def library(name, cfg, d: Device, seconds: float, data, teacher_rate: float | None) -> dict:
    """The library's training: make_learner + fit, KDCallback cached or online. The cached teacher pass (in
    `before_fit`, untimed) is kept to a quarter of the share: the training set shrinks to fit at `teacher_rate`."""
    train, valid = data
    if teacher_rate and name == 'library_kd_cached':
        n = max((cfg['warmup'] + 1) * cfg['bs'], int(teacher_rate * seconds / 4) // cfg['bs'] * cfg['bs'])
        if n < len(train): train = train.subset(torch.arange(n))
    teacher, student = model(cfg, 'teacher', d) if name != 'library_student' else None, model(cfg, 'student', d)
    dls = fair_dataloaders(train, valid, bs=cfg['bs'], seed=0)
    cbs = [] if name == 'library_student' else [KDCallback(teacher, T=T, alpha=ALPHA, cache=name == 'library_kd_cached')]
    timer = _TrainTimer(d, cfg['warmup'], cfg['steps'], seconds)
    learn = make_learner(student, dls, cbs=cbs + [timer], device=d.dev, precision='auto')
    d.reset_peak()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    n = timer.n - timer.warmup
    out = dict(images_s=n * cfg['bs'] / timer.dt, steps=n, seconds=timer.dt, peak_mem_bytes=d.peak(),
               precision=learn.precision)
    if name == 'library_kd_cached':  # the predictions path on this device, once
        df = predict(student, valid, bs=cfg['bs'])
        out['predict_rows'] = len(df)
        if len(df) != len(valid) or not np.isfinite(df.filter(like='p').to_numpy()).all():
            raise RuntimeError("predict() on this device gave wrong or non-finite rows")
    return out


def loader(cfg, d: Device, seconds: float, data, decoded: bool) -> dict:
    "Images/s of the training DataLoader alone, batches moved to the device: in memory, or decoding JPEG files."
    if not decoded:  # in memory (`load_splits(in_memory=True)`, CIFAR-100 always): TensorDL, as the experiments use it
        dls = fair_dataloaders(data[0], data[1], bs=cfg['bs'], seed=0, device=d.dev)
        kind, tmp = 'TensorDL (in memory)', None
    else:  # `files` JPEGs listed over and over: `items` of them
        from PIL import Image
        n, items, w, h = cfg['jpeg']
        tmp = tempfile.TemporaryDirectory(); rng = np.random.default_rng(0); files = []
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(n):
            base = np.stack([(xx * (i % 7 + 1) / w * 255) % 256, yy * 255 / h, (xx + yy + 9 * i) % 256], -1)
            f = Path(tmp.name) / f'{i:04d}.jpg'
            Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)).save(f, quality=90)
            files.append(f)
        files = [files[i % n] for i in range(items)]
        ds = FairImageDataset(files, np.arange(items) % cfg['classes'], np.arange(items) % 2,
                              [str(i) for i in range(cfg['classes'])], size=cfg['px'])
        dls = fair_dataloaders(ds, ds, bs=cfg['bs'], seed=0, device=d.dev)
        kind = f'FairImageDataset ({w}x{h} JPEG -> {cfg["px"]} px)'
    dl = dls.train
    try:  # steady rate: from the first batch (workers started) to the last
        d.reset_peak(); t_start = time.perf_counter(); n = 0
        for b in dl:
            b[0].sum().item()  # the batch is really there (on the device)
            n += 1
            if n == 1: t0 = time.perf_counter()
            elif time.perf_counter() - t_start > seconds: break
        dt = time.perf_counter() - t0
    finally:
        if tmp is not None: tmp.cleanup()
    return dict(images_s=(n - 1) * cfg['bs'] / dt, steps=n - 1, seconds=dt, first_batch_s=t0 - t_start,
                peak_mem_bytes=d.peak(), kind=kind, workers=dl.fake_l.num_workers, pin_memory=bool(dl.pin_memory))


def run(args) -> dict:
    d = Device(default_device(args.device))
    cfgs = {k: v for k, v in pairs(args.tiny).items() if k in args.pairs.split(',')}
    if not cfgs: raise ValueError(f"--pairs names none of {list(pairs(args.tiny))}: {args.pairs!r}")
    todo = {pair: [m for m in MEASURES if m != 'loader_decoded' or cfg['jpeg']] for pair, cfg in cfgs.items()}
    budget = Budget(args.budget_s, sum(map(len, todo.values())))
    name = torch.cuda.get_device_name(d.dev) if d.cuda else (platform.processor() or platform.machine()) + \
        f' CPU, {torch.get_num_threads()} threads'
    out = dict(device=str(d.dev), device_name=name, precision=d.precision, torch=torch.__version__, tiny=args.tiny,
               budget_s=args.budget_s, channels_last=True, pairs={})
    for pair, cfg in cfgs.items():
        n_train = (cfg['warmup'] + cfg['steps']) * cfg['bs']
        data = (synthetic_set(n_train, cfg), synthetic_set(cfg['bs'], cfg, seed=1))
        res = {}
        for m in todo[pair]:
            share = budget.share()
            if share < (0.5 if args.tiny else 2.0):
                res[m] = dict(skipped='budget'); continue
            t_m = time.perf_counter()
            try:
                if m in PLAIN: r = plain(m, cfg, d, share)
                elif m in LIBRARY: r = library(m, cfg, d, share, data, res['teacher_inference'].get('images_s'))
                else: r = loader(cfg, d, share, data, decoded=m == 'loader_decoded')
            except torch.cuda.OutOfMemoryError as e:
                r = dict(error=f'out of memory: {e}'.splitlines()[0])
            r['wall_s'] = time.perf_counter() - t_m
            res[m] = r
            if d.cuda: torch.cuda.empty_cache()
        out['pairs'][pair] = dict({k: cfg[k] for k in ('teacher', 'student', 'px', 'classes', 'bs')}, measurements=res)
    c = out['pairs']['cifar']['measurements'] if 'cifar' in out['pairs'] else {}
    kd, inf = c.get('library_kd_cached', {}).get('images_s'), c.get('teacher_inference', {}).get('images_s')
    est = dict(train_images=CIFAR_TRAIN, epochs=args.cifar_epochs,
               epochs_source='--cifar-epochs (REFERENCE gives no epoch count for seed 000; 240 is the CIFAR-100 '
                             'recipe of RepDistiller/mdistiller, whose results REFERENCE §6 quotes)')
    if kd and inf:
        est.update(student_images_s=kd, teacher_images_s=inf, teacher_cache_s=CIFAR_TRAIN / inf,
                   student_train_s=CIFAR_TRAIN * args.cifar_epochs / kd)
        est['seconds'] = est['teacher_cache_s'] + est['student_train_s']
    out['seed000_cifar_estimate'] = est
    out['elapsed_s'] = time.perf_counter() - T_START
    out['within_budget'] = out['elapsed_s'] <= args.budget_s
    return out


def table(out) -> str:
    mib = lambda b: f"{b / 2 ** 20:,.0f}"
    lines = [f"GPU check on **{out['device_name']}** ({out['device']}, {out['precision']}, channels_last"
             f"{', tiny sizes' if out['tiny'] else ''}), {out['elapsed_s']:.0f} s of a {out['budget_s']:.0f} s budget",
             '', '| pair | measurement | images/s | peak memory (MiB) | steps | note |', '|---|---|---|---|---|---|']
    for pair, p in out['pairs'].items():
        for m, r in p['measurements'].items():
            if 'images_s' not in r:
                lines.append(f"| {pair} | {m} | – | – | – | {r.get('skipped') or r.get('error')} |"); continue
            who = p['teacher'] if m.startswith('teacher') else p['student']
            note = r.get('kind', '') + (f", {r['workers']} workers, pinned={r['pin_memory']}" if 'workers' in r else '')
            lines.append(f"| {pair} | {m} ({who}, {p['px']} px, bs {p['bs']}) | {r['images_s']:,.0f} | "
                         f"{mib(r['peak_mem_bytes'])} | {r['steps']} | {note} |")
    e = out['seed000_cifar_estimate']
    if 'seconds' in e:
        lines += ['', f"Seed-000 CIFAR run (ResNet-20 distilled from ResNet-56, {e['train_images']:,} images x "
                      f"{e['epochs']} epochs): about {e['seconds'] / 60:,.1f} min = {e['student_train_s']:,.0f} s training "
                      f"at {e['student_images_s']:,.0f} images/s + {e['teacher_cache_s']:,.0f} s teacher pass."]
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    ap.add_argument('--tiny', action='store_true', help='tiny sizes (CPU tests)')
    ap.add_argument('--budget-s', type=float, default=480.0, help='stop measuring within this many seconds')
    ap.add_argument('--cifar-epochs', type=int, default=240, help='epochs of the seed-000 CIFAR estimate')
    ap.add_argument('--pairs', default='cifar,wider', help='comma-separated: cifar, wider')
    ap.add_argument('--out', default='gpu_check.json')
    args = ap.parse_args(argv)
    if args.budget_s <= 0: ap.error('--budget-s must be positive')
    try: default_device(args.device)
    except ValueError as e: ap.error(str(e))
    seed_everything(0)  # as every study run: cuDNN deterministic, no autotuning (make_learner sets it too)
    out = run(args)
    print(table(out))
    Path(args.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == '__main__':
    main()
