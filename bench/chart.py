#!/usr/bin/env python3
"""Draws B1/B2 throughput against batch size from the harness's sweep.csv (bench/cmd/iggy-bench).

    chart.py SWEEP_CSV OUT_PNG

Each point is the median of the runs at that batch size; the bars span the smallest and largest run.
"""
import csv
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TITLES = {
    "B1": "B1 source path: random source → runtime → Iggy",
    "B2": "B2 sink path: Iggy → runtime → discard sink",
}
LABELS = {
    "B1": {"ours": "runtime", "baseline": "plain Go producer"},
    "B2": {"ours": "runtime", "baseline": "plain group consumer"},
}


def main(src, dst):
    runs = defaultdict(list)  # (scenario, side, batch) -> [msgs/s]
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            runs[(row["scenario"], row["side"], int(row["batch"]))].append(float(row["msgs_per_s"]))
    if not runs:
        sys.exit(f"chart.py: {src} holds no runs")
    scenarios = [s for s in ("B1", "B2") if any(k[0] == s for k in runs)]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6 * len(scenarios), 4.5), squeeze=False)
    for ax, sc in zip(axes[0], scenarios):
        for side, style in (("ours", "o-"), ("baseline", "s--")):
            batches = sorted(b for (s, sd, b) in runs if s == sc and sd == side)
            if not batches:
                continue
            med = [statistics.median(runs[(sc, side, b)]) for b in batches]
            lo = [m - min(runs[(sc, side, b)]) for m, b in zip(med, batches)]
            hi = [max(runs[(sc, side, b)]) - m for m, b in zip(med, batches)]
            ax.errorbar(batches, med, yerr=[lo, hi], fmt=style, capsize=3, label=LABELS[sc][side])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size (messages per send / poll)")
        ax.set_ylabel("messages per second (1 KB each)")
        ax.set_title(TITLES[sc], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py SWEEP_CSV OUT_PNG")
    main(sys.argv[1], sys.argv[2])
