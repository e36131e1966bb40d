"""The exact-match answer cache: the key (canonical form of what determines an answer), the stored
answer (a completion or a stream's chunk batches, convertible either way), and the stores."""

from proxy.cache.answer import CachedAnswer
from proxy.cache.key import cache_key
from proxy.cache.memory import AnswerStore, MemoryStore

__all__ = ["AnswerStore", "CachedAnswer", "MemoryStore", "cache_key"]
