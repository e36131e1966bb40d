"""Train the v2 router on all three sources and write proxy/routing/router_v2.json.

    python -m bench.router_v2.train [--steps 400] [--k K] [--pair-weight W] [--shrink S]

With no options it trains the shipped recipe (`model.Config`'s defaults, chosen by `bench.router_v2.sweep` over
many held-out splits; see bench/ROUTING.md).

The static token table (proxy/routing/static_embed.bin) must exist: `python -m bench.router_v2.distill`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from bench.router_v2 import data, export, metrics, model
from bench.router_v2.cache import represented


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--k", type=int, default=model.Config.k)
    ap.add_argument("--pair-weight", type=float, default=model.Config.pair_weight)
    ap.add_argument("--shrink", type=float, default=model.Config.shrink)
    ap.add_argument("--out", default=str(export.OUT))
    args = ap.parse_args()
    corpus = data.load()
    rep = represented(corpus.prompts)
    cfg = replace(model.Config(), steps=args.steps, k=args.k, pair_weight=args.pair_weight, shrink=args.shrink)
    p = model.fit(rep, corpus.cell_prompt, corpus.cell_model, corpus.cell_y, corpus.source_of_cell(),
                  len(corpus.models), cfg, log=True)
    src = corpus.source_of_cell()
    logit = p.logits(rep, corpus.source)
    pred = model.sigmoid(logit[corpus.cell_prompt, corpus.cell_model])
    for s, name in enumerate(data.SOURCES):
        m = src == s
        print(f"{name}: training Brier {metrics.brier(pred[m], corpus.cell_y[m]):.4f} over {m.sum()} cells")
    from pathlib import Path

    doc = export.export(p, corpus, rep, Path(args.out), meta={"prompts": len(corpus.prompts),
                                                             "cells": int(len(corpus.cell_y))})
    print(f"wrote {args.out}: {len(doc['models'])} models, k={doc['k']}, "
          f"{Path(args.out).stat().st_size / 1e3:.0f} KB; mean training label {np.mean(corpus.cell_y):.3f}")


if __name__ == "__main__":
    main()
