"""WordPiece over words, the pure-Python reference of `scorer_rs/src/embed/`.

A simplified BERT-uncased tokenizer, chosen so Rust can match it byte for byte without Unicode tables:
words are runs of ASCII alphanumerics or non-ASCII bytes (as the router's text pass splits them), only ASCII
is lower-cased, and punctuation is dropped (it carries no topic). Each word is looked up whole, then split
greedily longest-match-first into `##` pieces; a word that cannot be split, or is longer than 100 bytes,
is skipped rather than becoming [UNK]. Only the first `MAX_WORDS` words are read: a mean of static vectors
settles long before that, and it bounds the cost of a 2k-token prompt.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

MAX_WORDS = 512
MAX_WORD_BYTES = 100


def words(text: str, limit: int = MAX_WORDS) -> Iterator[bytes]:
    """ASCII-lower-cased words, split as the Rust text pass splits them."""
    data = text.encode("utf-8", "surrogatepass")
    n = start = count = 0
    length = len(data)
    while n < length and count < limit:
        while n < length and not _word_byte(data[n]):
            n += 1
        start = n
        while n < length and _word_byte(data[n]):
            n += 1
        if n > start:
            count += 1
            yield data[start:n].lower()  # bytes.lower() touches ASCII only


def _word_byte(b: int) -> bool:
    return b >= 0x80 or 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def pieces(word: bytes, vocab: Mapping[bytes, int]) -> list[int]:
    """Greedy longest-match-first WordPiece ids of one word; [] when it cannot be split."""
    whole = vocab.get(word)
    if whole is not None:
        return [whole]
    if len(word) > MAX_WORD_BYTES:
        return []
    out: list[int] = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while end > start:
            key = word[start:end] if start == 0 else b"##" + word[start:end]
            found = vocab.get(key)
            if found is not None:
                break
            end -= 1
        if found is None:
            return []
        out.append(found)
        start = end
    return out


def token_ids(text: str, vocab: Mapping[bytes, int], limit: int = MAX_WORDS) -> list[int]:
    return [i for w in words(text, limit) for i in pieces(w, vocab)]


def load_vocab(lines: list[str]) -> dict[bytes, int]:
    return {line.encode("utf-8"): i for i, line in enumerate(lines)}
