"""Benchmark: decoding images on disk (WIDER / CelebA are JPEG folders) against the training step that consumes them.

In one run, on a temporary folder of generated JPEGs (`--files` of them, smooth gradients plus noise, quality 90), for
each source size (`--src`, default 226 px, the training size, and 1024x683, about a WIDER photo):
  - images/s of decoding + resizing to 226 px + making a uint8 CHW tensor, four ways: PIL (`Image.open` + `resize`,
    today's `FairImageDataset`), PIL with `Image.draft` (JPEG DCT-domain downscaling first), `torchvision.io.decode_image`
    + `torchvision.transforms.v2.functional.resize` (antialiased bilinear); each through a torch `DataLoader` with 0 and
    2 workers (a pass of `--items` items, worker start-up included, best of `--repeats`);
  - images/s of one training step (forward, backward, Adam; channels_last, as `make_learner`) of EfficientNet-B0 at
    226 px and ResNet-20 at 32 px, on the CPU here;
  - the ratios decode images/s / training-step images/s (above 1: the data keeps up with the model).
Run: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_image_decode.py` and check `uptime` first: on a machine whose
cores other processes hold, OpenMP threads spin and workers compete (two runs here, at load 2.6 and 5-9, disagreed on
what workers buy; torchvision.io beat PIL without workers in both).
"""
import argparse, os, statistics, tempfile, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF

from kdfair_nb.models import create_kd_model

ap = argparse.ArgumentParser()
ap.add_argument('--files', type=int, default=64)
ap.add_argument('--items', type=int, default=256, help='items per timed pass (files reused)')
ap.add_argument('--size', type=int, default=226)
ap.add_argument('--src', default='226x226,1024x683', help='comma-separated WxH of the generated JPEGs')
ap.add_argument('--repeats', type=int, default=3)
ap.add_argument('--bs', type=int, default=16, help='EfficientNet-B0 training batch (ResNet-20: 128)')
args = ap.parse_args()


def write_jpegs(folder, n, w, h, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    files = []
    for i in range(n):
        base = np.stack([(xx * (i + 1) / w * 255) % 256, (yy * 255 / h), ((xx + yy) * 0.3 + 40 * i) % 256], -1)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        f = Path(folder) / f'{i:04d}.jpg'; Image.fromarray(img).save(f, quality=90); files.append(f)
    return files


def pil(f, s):
    with Image.open(f) as im:
        return torch.from_numpy(np.asarray(im.convert('RGB').resize((s, s), Image.BILINEAR)).copy()).permute(2, 0, 1)

def pil_draft(f, s):
    with Image.open(f) as im:
        im.draft('RGB', (s, s))
        return torch.from_numpy(np.asarray(im.convert('RGB').resize((s, s), Image.BILINEAR)).copy()).permute(2, 0, 1)

def tv(f, s):
    return TF.resize(decode_image(str(f), mode=ImageReadMode.RGB), [s, s], antialias=True)

DECODERS = {'PIL': pil, 'PIL+draft': pil_draft, 'torchvision.io': tv}


class Files(torch.utils.data.Dataset):
    def __init__(self, files, n, fn, size): self.files, self.n, self.fn, self.size = files, n, fn, size
    def __len__(self): return self.n
    def __getitem__(self, i): return self.fn(self.files[i % len(self.files)], self.size)


def decode_rate(files, fn, workers):
    dl = torch.utils.data.DataLoader(Files(files, args.items, fn, args.size), batch_size=32, num_workers=workers)
    ts = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in dl: pass
        ts.append(time.perf_counter() - t0)
    return args.items / min(ts)


def step_rate(name, px, bs, n_cls):
    torch.manual_seed(0)
    m = create_kd_model(name, n_cls, seed=0).to(memory_format=torch.channels_last)
    x = torch.randn(bs, 3, px, px).contiguous(memory_format=torch.channels_last); y = torch.randint(0, n_cls, (bs,))
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    def step():
        loss = torch.nn.functional.cross_entropy(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
    step()  # warm-up
    ts = []
    for _ in range(args.repeats):
        t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
    return bs / statistics.median(ts)


print(f"load average {os.getloadavg()[0]:.2f}, torch threads {torch.get_num_threads()}, {args.files} files, "
      f"{args.items} items per pass, decoded to {args.size} px")
steps = {'EfficientNet-B0 226 px': step_rate('efficientnet_b0', 226, args.bs, 16),
         'ResNet-20 32 px': step_rate('cifar_resnet20', 32, 128, 100)}
for k, v in steps.items(): print(f"training step {k}: {v:,.1f} images/s")
rows = []
with tempfile.TemporaryDirectory() as d:
    for src in args.src.split(','):
        w, h = map(int, src.split('x'))
        sub = Path(d) / src; sub.mkdir()
        files = write_jpegs(sub, args.files, w, h)
        ref = pil(files[0], args.size)
        for name, fn in DECODERS.items():
            diff = (fn(files[0], args.size).int() - ref.int()).abs()
            for workers in (0, 2):
                r = decode_rate(files, fn, workers)
                rows.append((src, name, workers, r, int(diff.max()), float(diff.float().mean())))
b0 = steps['EfficientNet-B0 226 px']
print(f"\n| source | decoder | workers | decode images/s | / B0 step | max / mean abs diff vs PIL (uint8) |")
print("|---|---|---|---|---|---|")
for src, name, workers, r, mx, mean in rows:
    print(f"| {src} | {name} | {workers} | {r:,.0f} | {r / b0:.1f}x | {mx} / {mean:.2f} |")
print(f"\nResNet-20 32 px trains from in-memory tensors (TensorDL), not from decoded files; its step rate "
      f"{steps['ResNet-20 32 px']:,.0f} images/s is the pace a decoded 32 px set would have to keep.")
for src in args.src.split(','):
    r = {(n, wk): v for s, n, wk, v, *_ in rows if s == src}
    print(f"{src}: torchvision.io / PIL = {r['torchvision.io', 0] / r['PIL', 0]:.2f}x (0 workers), "
          f"{r['torchvision.io', 2] / r['PIL', 2]:.2f}x (2 workers); PIL+draft / PIL = "
          f"{r['PIL+draft', 0] / r['PIL', 0]:.2f}x; 2 workers / 0 (PIL) = {r['PIL', 2] / r['PIL', 0]:.2f}x")
