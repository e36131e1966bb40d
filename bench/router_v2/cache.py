"""The corpus's representation, cached on disk by a digest of the prompts (and of the table for the embedding):
the pure-Python text pass over 23k prompts takes minutes."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from bench import train_router as tr
from bench.router_v2.represent import TABLE_PATH, Represented, StaticTable, form_features


def _digest(prompts: list[str], extra: bytes = b"") -> str:
    h = hashlib.sha256(extra)
    for p in prompts:
        h.update(p.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def text_pass(prompts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dense incl. form features, ids_ptr, ids)."""
    path = Path(tempfile.gettempdir()) / f"switchyard-route-text-{_digest(prompts)}.npz"
    if path.exists():
        z = np.load(path)
        return z["dense"], z["ids_ptr"], z["ids"]
    dense, ptr, ids = [], [0], []
    for p in prompts:
        f = tr.prompt_features(p)
        dense.append(list(f.dense) + form_features(p))
        ids.append(np.asarray(f.ids, dtype=np.int64))
        ptr.append(ptr[-1] + len(f.ids))
    out = (np.array(dense), np.array(ptr), np.concatenate(ids))
    np.savez(path, dense=out[0], ids_ptr=out[1], ids=out[2])
    return out


def represented(prompts: list[str], table_path: Path = TABLE_PATH) -> Represented:
    dense, ptr, ids = text_pass(prompts)
    path = Path(tempfile.gettempdir()) / f"switchyard-route-emb-{_digest(prompts, table_path.read_bytes())}.npy"
    if path.exists():
        emb = np.load(path)
    else:
        table = StaticTable.load(table_path)
        emb = np.array([table.embed(p) for p in prompts])
        np.save(path, emb)
    return Represented(emb, dense, ptr, ids)
