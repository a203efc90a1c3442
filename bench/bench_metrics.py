"""Issue 8, benchmark 4: metrics and statistics, vectorised vs a naive per-class Python loop.

Case: 100 classes, 10 seeds per model (teacher, non-distilled student, distilled student), 10k test samples,
binary protected attribute. Work per pass: per-run per-class accuracies of the three models, Welch t-tests per
class (#TC and #SC, with BH-FDR and Hedges' g), per-run recall disparity, one-vs-rest DPD/EOD, and CEV/SDE of
the distilled runs against the teacher. Both versions run in the same process on the same data; the results
are checked to agree, and the best of a few repeats (time.perf_counter) is reported. Not a test.
"""
import time

import numpy as np
from scipy import stats

from kdfair_nb.metrics import cev_sde, dpd_eod, mean_abs_disparity, recall_disparity
from kdfair_nb.stats import classwise_tests, per_class_accuracy

C, R, N = 100, 10, 10_000
rng = np.random.default_rng(0)
y = rng.integers(0, C, N)
a = (rng.random(N) < np.linspace(0.2, 0.8, C)[y]).astype(np.int64)


def runs(p_correct):
    return np.where(rng.random((R, N)) < p_correct, y, rng.integers(0, C, (R, N)))


P_t = runs(0.75)
P_s = runs(0.68)
P_k = runs(np.where(a == 1, 0.74, 0.66)[None])      # distilled student, skewed towards group 1


def vectorised():
    acc_t, acc_s, acc_k = (per_class_accuracy(P, y, C) for P in (P_t, P_s, P_k))
    tc, sc = classwise_tests(acc_t, acc_k), classwise_tests(acc_s, acc_k)
    d = recall_disparity(y, P_k, a, C)
    fe = dpd_eod(y, P_k, a, C)
    rs = cev_sde(P_k, P_t[0], y=y, n_classes=C)
    return dict(TC=tc.n_sig, SC=sc.n_sig, TC_fdr=tc.n_sig_fdr, g=sc.table['hedges_g'].to_numpy(),
                mad=mean_abs_disparity(d), dpd=fe['dpd'], eod=fe['eod'], cev=rs.cev, sde=rs.sde)


def naive():
    def acc_of(P):
        out = np.empty((R, C))
        for r in range(R):
            for c in range(C):
                m = y == c
                out[r, c] = (P[r][m] == c).mean()
        return out

    def tests(A, B):
        p, g = np.empty(C), np.empty(C)
        for c in range(C):
            p[c] = stats.ttest_ind(B[:, c], A[:, c], equal_var=False).pvalue
            sp = np.sqrt(((R - 1) * A[:, c].var(ddof=1) + (R - 1) * B[:, c].var(ddof=1)) / (2 * R - 2))
            g[c] = (B[:, c].mean() - A[:, c].mean()) / sp * (1 - 3 / (4 * 2 * R - 9))
        return p, g

    acc_t, acc_s, acc_k = acc_of(P_t), acc_of(P_s), acc_of(P_k)
    p_tc, _ = tests(acc_t, acc_k)
    p_sc, g_sc = tests(acc_s, acc_k)
    mad, dpd, eod = np.empty(R), np.empty(R), np.empty(R)
    for r in range(R):
        pr = P_k[r]
        d, dp, eo = np.empty(C), np.empty(C), np.empty(C)
        for c in range(C):
            tpr, fpr, sr = [], [], []
            for grp in (0, 1):
                mg = a == grp
                pos, neg = mg & (y == c), mg & (y != c)
                tpr.append((pr[pos] == c).mean())
                fpr.append((pr[neg] == c).mean())
                sr.append((pr[mg] == c).mean())
            d[c] = tpr[1] - tpr[0]
            dp[c] = abs(sr[1] - sr[0])
            eo[c] = max(abs(tpr[1] - tpr[0]), abs(fpr[1] - fpr[0]))
        mad[r], dpd[r], eod[r] = np.abs(d).mean(), dp.mean(), eo.mean()
    dfpr, dfnr = np.empty(C), np.empty(C)
    for c in range(C):
        pos, neg = y == c, y != c
        fpr_t, fnr_t = (P_t[0][neg] == c).mean(), (P_t[0][pos] != c).mean()
        fpr_s = np.mean([(P_k[r][neg] == c).mean() for r in range(R)])
        fnr_s = np.mean([(P_k[r][pos] != c).mean() for r in range(R)])
        dfpr[c], dfnr[c] = 100 * (fpr_s - fpr_t) / fpr_t, 100 * (fnr_s - fnr_t) / fnr_t
    pts = np.stack([dfpr, dfnr], 1)
    return dict(TC=int((p_tc <= 0.05).sum()), SC=int((p_sc <= 0.05).sum()),
                TC_fdr=int((stats.false_discovery_control(p_tc) <= 0.05).sum()), g=g_sc, mad=mad, dpd=dpd, eod=eod,
                cev=((pts - pts.mean(0)) ** 2).sum() / (2 * C), sde=np.abs(dfpr - dfnr).mean() / np.sqrt(2))


def best(f, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t0)
    return min(ts), out


if __name__ == '__main__':
    t_vec, rv = best(vectorised, 5)
    t_naive, rn = best(naive, 3)
    for k in rv:                                            # same numbers both ways
        np.testing.assert_allclose(rv[k], rn[k], rtol=1e-9, atol=1e-12, err_msg=k)
    print(f"case: {C} classes, {R} seeds x 3 models, {N} samples; #TC={rv['TC']} #SC={rv['SC']} "
          f"mean|disp|={np.mean(rv['mad']):.4f} CEV={rv['cev']:.1f} SDE={rv['sde']:.2f}")
    print(f"vectorised (kdfair_nb.metrics/stats): {t_vec * 1e3:8.1f} ms (best of 5)")
    print(f"naive per-class Python loop:          {t_naive * 1e3:8.1f} ms (best of 3)")
    print(f"speed-up: {t_naive / t_vec:.1f}x")
