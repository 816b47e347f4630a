"""Per-seed test accuracy and its statistics: archsim against the authors' code on CPU and against the
authors' published GPU notebook.

Reads archsim_raw.csv and authors_raw.csv from the work folder (archsim_seeds.py, authors_seeds.py) and the
notebook (parse_authors_notebook.py); writes epoch_acc.csv there (implementation,seed,epoch,test_accuracy,
as fractions). Prints per epoch: each implementation's test accuracy (mean ± std with ddof=1, min, max) and
mean train accuracy; archsim minus each of the authors' sets and minus both pooled, with Welch's t, a
two-sided permutation p (200k permutations) and a ≈95 % CI (±2 SE); then the per-seed table.

usage: .venv/bin/python analyse.py
"""
import numpy as np

import common
from parse_authors_notebook import notebook_rows

IMPLS = ["archsim", "authors_cpu", "authors_gpu_notebook"]
RNG = np.random.default_rng(0)

acc = {impl: {} for impl in IMPLS}  # implementation -> (seed, epoch) -> (test %, train %)
for name in ("archsim_raw.csv", "authors_raw.csv"):
    for line in (common.WORK / name).read_text().split():
        impl, seed, epoch, test, train = line.split(",")
        acc[impl][int(seed), int(epoch)] = (float(test) * 100, float(train) * 100)
epochs = max(e for impl in IMPLS[:2] for _, e in acc[impl])
for seed, epoch, train, test in notebook_rows(epochs):
    acc["authors_gpu_notebook"][seed, epoch] = (test, train)

with open(common.WORK / "epoch_acc.csv", "w") as f:
    f.write("implementation,seed,epoch,test_accuracy\n")
    for impl in IMPLS:
        for (seed, epoch), (test, _) in sorted(acc[impl].items()):
            f.write(f"{impl},{seed},{epoch},{test / 100:.5f}\n")


def values(impl, epoch, col=0):
    return np.array([v[col] for (_, e), v in sorted(acc[impl].items()) if e == epoch])


def welch(a, b):
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return (a.mean() - b.mean()) / se, se


def perm_p(a, b, n=200_000):
    """Two-sided permutation p of |mean(a) − mean(b)|."""
    z, k = np.concatenate([a, b]), len(a)
    idx = np.argsort(RNG.random((n, len(z))), axis=1)
    d = np.abs(z[idx[:, :k]].mean(1) - z[idx[:, k:]].mean(1))
    return (np.sum(d >= abs(a.mean() - b.mean()) - 1e-12) + 1) / (n + 1)


for ep in range(1, epochs + 1):
    print(f"\n== epoch {ep}: test accuracy (%), mean ± std (ddof=1) [n]; train accuracy (epoch mean)")
    for impl in IMPLS:
        a, t = values(impl, ep), values(impl, ep, col=1)
        if len(a):
            sd = f"{a.std(ddof=1):4.2f}" if len(a) > 1 else "  – "
            print(f"  {impl:22s}: {a.mean():6.2f} ± {sd} [n={len(a)}]  min {a.min():.2f} max {a.max():.2f}"
                  f"   train {t.mean():.2f}")
    a = values("archsim", ep)
    refs = {ref: values(ref, ep) for ref in IMPLS[1:]}
    refs["authors pooled (cpu + gpu notebook)"] = np.concatenate(list(refs.values()))
    for ref, b in refs.items():
        if min(len(a), len(b)) < 2:
            print(f"  archsim - {ref}: no statistics (needs ≥ 2 seeds on each side)")
            continue
        t, se = welch(a, b)
        d = a.mean() - b.mean()
        print(f"  archsim - {ref} (n={len(a)} vs {len(b)}): {d:+.2f} pts (SE {se:.2f}), Welch t = {t:+.2f}, "
              f"permutation p = {perm_p(a, b):.3f}, 95% CI ≈ [{d - 2 * se:+.2f}, {d + 2 * se:+.2f}]")

print(f"\nper-seed test accuracy (%), epoch {' / '.join(map(str, range(1, epochs + 1)))}:")
print("| seed | " + " | ".join(IMPLS) + " |")
for seed in sorted({s for impl in IMPLS for s, _ in acc[impl]}):
    cells = []
    for impl in IMPLS:
        v = [acc[impl].get((seed, e)) for e in range(1, epochs + 1)]
        cells.append(" / ".join(f"{x[0]:.2f}" for x in v) if all(v) else "–")
    print(f"| {seed} | " + " | ".join(cells) + " |")
