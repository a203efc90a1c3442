"""Pilot: on which embedded benchmark is KD KD? (issue 12; not a test, not a timed benchmark)

For a candidate label of biased Trifeature it trains one teacher and, per seed, a LeNet-5 alone and a LeNet-5
distilled from it (KD, T = 4, alpha = 0.9), each under the study's rule (stop on the validation loss, keep the best
epoch), and prints one row per model: train / valid / test accuracy, mean |recall disparity| on test, epochs.
A benchmark serves the study when the teacher is clearly better than the student alone, errs in every class, and
KD is at least as accurate as no KD. The study page shows the table this script printed.

    .venv/bin/python bench/pilot_benchmark.py texture 6000 cifar_resnet20 15 30 0,1,2
    LABEL: shape | texture | tf100 (shape x texture, 100 classes)"""
import sys, tempfile, time
import torch
from kdfair_nb.data import FEATURES, TensorFairDataset, fair_dataloaders, make_biased_trifeature
from kdfair_nb.distill import make_kd_callback
from kdfair_nb.metrics import fairness_report
from kdfair_nb.models import create_kd_model
from kdfair_nb.train import predict, train_model

label, n_train, arch, t_ep, s_ep = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
seeds = [int(s) for s in sys.argv[6].split(',')]
d = make_biased_trifeature(n_train, 1000, 2000, size=32, skew=0.8, label='shape' if label == 'tf100' else label, seed=0)

def relabel(ds):  # shape x texture: 100 classes that share shapes or textures (dark knowledge for the teacher)
    if label != 'tf100': return ds
    return TensorFairDataset(ds.x, ds.meta['shape'] * 10 + ds.meta['texture'], ds.a,
                             [f"{s}-{t}" for s in FEATURES['shape'] for t in FEATURES['texture']], ds.groups, ds.stats, ds.meta)

train, valid, test = map(relabel, (d.train, d.valid, d.test))
acc = lambda m, ds: float((lambda p: (p.pred == p.y).mean())(predict(m, ds)))

def fit(model, seed, epochs, cbs=()):
    t0 = time.perf_counter()
    learn = train_model(model, fair_dataloaders(train, valid, bs=128, seed=seed), epochs=epochs, lr=3e-3, seed=seed,
                        cbs=list(cbs), progress=False, patience=5, restore_best=True)
    r = fairness_report(predict(model, test), warn=False)
    return (f"{acc(model, train):.3f} | {acc(model, valid):.3f} | {r['accuracy']:.3f} | {r['mean_abs_disp']:.3f} | "
            f"{learn.best_epoch}/{len(learn.recorder.values)} | {time.perf_counter() - t0:.0f} s")

print(f"label {label}, {n_train} training images; teacher {arch}")
print("| model | seed | train | valid | test | test disp | best/run epochs | time |\n|---|---|---|---|---|---|---|---|")
torch.set_num_threads(2)
teacher = create_kd_model(arch, train.c, seed=0)
print(f"| teacher {arch} | 0 | {fit(teacher, 0, t_ep)} |", flush=True)
teacher.eval(); torch.set_num_threads(1)
cache = tempfile.mkdtemp()
for s in seeds:
    print(f"| LeNet-5 alone | {s} | {fit(create_kd_model('lenet5', train.c, seed=s), s, s_ep)} |", flush=True)
    kd = make_kd_callback('kd', teacher, data=train, cache_dir=cache, T=4.0, alpha=0.9)
    print(f"| LeNet-5 KD | {s} | {fit(create_kd_model('lenet5', train.c, seed=s), s, s_ep, [kd])} |", flush=True)
