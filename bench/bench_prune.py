"""Issue 6: what pruning buys on the CPU — masked vs physically smaller CIFAR ResNet-20.

Case: `cifar_resnet20` (10 classes, 32 px), pruned at 30/45/60/75% by L1 filter pruning (then
`remove_pruned_filters`) and by layer-wise L1 unstructured pruning (masks folded in, dense kernels). For each, side
by side in one run: parameters, non-zero parameters, FLOPs and median CPU latency (batch 1 and 64, the threads
torch uses here) with dense/pruned ratios, and the largest output difference between the masked and the smaller
model (the removal must be exact). Not a test; latencies vary with machine load.
"""
import pandas as pd
import torch

from kdfair_nb.models import count_flops, count_nonzero_params, count_params, cpu_latency, create_kd_model
from kdfair_nb.prune import make_permanent, prune_to, pruned_copy, remove_pruned_filters

N_ITER = 20
dense = create_kd_model('cifar_resnet20', 10, seed=0).eval()
x = torch.randn(8, 3, 32, 32)


def row(name, m, ref):
    r = {'model': name, 'params': count_params(m), 'nonzero': count_nonzero_params(m), 'MFLOPs': count_flops(m) / 1e6}
    for b in (1, 64): r[f'ms b{b}'] = 1e3 * cpu_latency(m, b, n_iter=N_ITER)
    if ref is not None:
        for k in ('params', 'MFLOPs', 'ms b1', 'ms b64'): r[f'{k} ratio'] = ref[k] / r[k]
    return r


ref = row('dense', dense, None)
rows = [ref]
for s in (0.3, 0.45, 0.6, 0.75):
    masked = pruned_copy(dense); prune_to(masked, s, 'structured'); masked.eval()
    small = remove_pruned_filters(masked).eval()
    with torch.no_grad(): err = float((small(x) - masked(x)).abs().max())
    rows.append({**row(f'filters {s:.0%} removed', small, ref), 'max |diff|': err})
    unstr = pruned_copy(dense); prune_to(unstr, s, "unstructured"); make_permanent(unstr)
    rows.append(row(f'unstructured {s:.0%}', unstr.eval(), ref))

pd.set_option('display.width', 200); pd.set_option('display.max_columns', 20)
print(f"torch threads: {torch.get_num_threads()}")
print(pd.DataFrame(rows).set_index('model').round(3).to_string())
