#!/usr/bin/env python3
"""Draws the memory soak (`make soak`) from the harness's soak.json (bench/cmd/iggy-bench soak).

    soakchart.py SOAK_JSON OUT_PNG

Top: the runtime's VmRSS over time, the warm-up shaded, the reference level (largest RSS of the minute
after the warm-up) and the target (+2% on it) drawn as lines. Middle: resident memory per mapping kind
(/proc/<pid>/smaps summaries, one a minute), stacked, file mappings at the bottom. Bottom (when the soak could read them): the heap
in use of every Go runtime in the process, with its collection count at the end.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MB = 1 << 20
NS_PER_MIN = 60e9
TARGET = 0.02  # bench.TargetB6Growth


def main(src, dst):
    with open(src) as f:
        soak = json.load(f)
    samples = soak.get("samples") or []
    if not samples:
        sys.exit(f"soakchart.py: {src} holds no samples")
    t = [s["at_ns"] / NS_PER_MIN for s in samples]
    rss = [s["rss"] / MB for s in samples]
    warm = soak.get("warmup_ns", 0) / NS_PER_MIN
    maps = soak.get("maps") or []
    heaps = [m for m in maps if m.get("go_heaps")]
    panels = 1 + bool(maps) + bool(heaps)
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3.6 * panels + 0.8), squeeze=False, sharex=True)
    ax = axes[0][0]
    ax.plot(t, rss, "-", lw=1, label="VmRSS")
    if warm:
        ax.axvspan(0, warm, color="0.9", label="warm-up (left out of the verdict)")
    early = soak.get("early_rss", 0) / MB
    if early:
        ax.axhline(early, color="tab:green", ls="--", lw=1, label=f"reference {early:.1f} MB")
        ax.axhline(early * (1 + TARGET), color="tab:red", ls=":", lw=1, label=f"target +{TARGET * 100:.0f}%")
    env = " ".join(soak.get("env") or []) or "default allocator settings"
    ax.set_title(f"Runtime RSS during the soak ({env}): growth after warm-up {soak.get('growth', 0) * 100:+.1f}%", fontsize=10)
    ax.set_ylabel("MB (axis not from zero)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if maps:
        kinds = []
        for m in maps:
            for k in m["kinds"]:
                if k["kind"] not in kinds:
                    kinds.append(k["kind"])
        kinds.reverse()  # the steady file mappings at the bottom, the heaps on top
        mt = [m["at_ns"] / NS_PER_MIN for m in maps]
        ys = [[next((k["rss"] / MB for k in m["kinds"] if k["kind"] == kind), 0) for m in maps] for kind in kinds]
        ax = axes[1][0]
        ax.stackplot(mt, ys, labels=kinds, alpha=0.85)
        if warm:
            ax.axvline(warm, color="0.5", ls="--", lw=1)
        ax.set_ylabel("MB resident (smaps)")
        ax.set_title("Resident memory per mapping kind", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if heaps:
        ax = axes[2][0]
        objects = []
        for m in heaps:
            for h in m["go_heaps"]:
                if h["object"] not in objects:
                    objects.append(h["object"])
        for obj in objects:
            pts = [(m["at_ns"] / NS_PER_MIN, h) for m in heaps for h in m["go_heaps"] if h["object"] == obj]
            ax.plot([p[0] for p in pts], [p[1]["heap_in_use"] / MB for p in pts], "o-", ms=3,
                    label=f"{obj} ({pts[-1][1]['num_gc']} collections)")
        if warm:
            ax.axvline(warm, color="0.5", ls="--", lw=1)
        ax.set_ylabel("MB heap in use")
        ax.set_ylim(bottom=0)
        ax.set_title("Heap in use of each Go runtime in the process", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    axes[-1][0].set_xlabel("minutes since the runtime started")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: soakchart.py SOAK_JSON OUT_PNG")
    main(sys.argv[1], sys.argv[2])
