"""The three training sources as one table of (prompt, model, score) cells, and the held-out splits.

Sources and label types: `routellm` (train.jsonl: MMLU/GSM8K correctness of Mixtral and GPT-4 Turbo),
`mmlu_pro` (5-shot CoT answer letter right, 29 models), `llmrouter` (14 tasks, 9 open models, mostly 0/1).
A model that appears in two sources under two spellings is one model here (`SAME_MODEL`), which is what
ties the sources together; each source keeps its own logit offset for its label type.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ../shared beside the checkout (as in CI); SWITCHYARD_ROUTING_DATA points elsewhere (e.g. from a worktree).
SHARED = Path(os.environ.get("SWITCHYARD_ROUTING_DATA")
              or Path(__file__).resolve().parents[3] / "shared" / "data" / "routing")
SOURCES = ("routellm", "mmlu_pro", "llmrouter")
FILES = {"routellm": "train.jsonl", "mmlu_pro": "multimodel/mmlu_pro_train.jsonl",
         "llmrouter": "multimodel/llmrouter_train.jsonl"}
ROUTELLM_MODELS = ("mixtral-8x7b-instruct", "gpt-4-1106-preview")
# Spellings of one model across sources -> the name used here (the MMLU-Pro spelling).
SAME_MODEL = {"mixtral-8x7b-instruct": "Mixtral-8x7B-Instruct-v0.1", "llama-3.1-8b-instruct": "Meta-Llama-3_1-8B-Instruct"}
# LLMRouter tasks whose answers are free text or code rather than a choice: the open-ended proxy.
GENERATION_TASKS = ("commongen", "human_eval", "mbpp")


def available(root: Path = SHARED) -> bool:
    return all((root / f).exists() for f in FILES.values())


@dataclass
class Corpus:
    prompts: list[str]
    source: np.ndarray  # per prompt, index into SOURCES
    task: np.ndarray  # per prompt: MMLU subject / MMLU-Pro category / LLMRouter task
    models: list[str]
    # cells
    cell_prompt: np.ndarray
    cell_model: np.ndarray
    cell_y: np.ndarray  # score in [0, 1]

    def source_of_cell(self) -> np.ndarray:
        return self.source[self.cell_prompt]

    def matrix(self, prompt_idx: np.ndarray, model_names: list[str]) -> np.ndarray:
        """Scores as (prompts x models) with NaN where a model has no result."""
        col = {self.models.index(m): j for j, m in enumerate(model_names)}
        pos = {int(p): i for i, p in enumerate(prompt_idx)}
        out = np.full((len(prompt_idx), len(model_names)), np.nan)
        keep = np.isin(self.cell_prompt, prompt_idx) & np.isin(self.cell_model, list(col))
        for p, m, y in zip(self.cell_prompt[keep], self.cell_model[keep], self.cell_y[keep]):
            out[pos[int(p)], col[int(m)]] = y
        return out


def load(root: Path = SHARED) -> Corpus:
    prompts: list[str] = []
    source: list[int] = []
    task: list[str] = []
    models: dict[str, int] = {}
    cp: list[int] = []
    cm: list[int] = []
    cy: list[float] = []

    def cell(p: int, name: str, y: float) -> None:
        name = SAME_MODEL.get(name, name)
        cp.append(p)
        cm.append(models.setdefault(name, len(models)))
        cy.append(float(y))

    for s, name in enumerate(SOURCES):
        for line in (root / FILES[name]).open():
            r = json.loads(line)
            p = len(prompts)
            prompts.append(r["prompt"])
            source.append(s)
            if name == "routellm":
                task.append(r["source"])
                for m in ROUTELLM_MODELS:
                    cell(p, m, r[m])
            else:
                task.append(r["task"])
                for m, y in r["scores"].items():
                    cell(p, m, y)
    return Corpus(prompts, np.array(source), np.array(task), list(models), np.array(cp), np.array(cm),
                  np.array(cy, dtype=np.float64))


@dataclass(frozen=True)
class Split:
    """Held-out prompts: whole groups (subjects, categories, tasks) never seen in training."""

    name: str
    test: np.ndarray  # bool per prompt
    held: tuple[str, ...]


def routellm_split(c: Corpus, seed: int, subjects: int = 10, gsm8k: int = 200) -> Split:
    """As bench/route_eval.py always did: 10 whole MMLU subjects + 200 random GSM8K rows."""
    rng = np.random.default_rng(seed)
    is_src = c.source == SOURCES.index("routellm")
    names = sorted(set(c.task[is_src]) - {"gsm8k"})
    held = tuple(sorted(rng.permutation(names)[:subjects]))
    test = is_src & np.isin(c.task, held)
    gsm = np.flatnonzero(is_src & (c.task == "gsm8k"))
    test[rng.choice(gsm, min(gsm8k, len(gsm) // 4), replace=False)] = True  # a quarter at most: the smoke subsample
    return Split(f"routellm-subjects-s{seed}", test, held)


def group_split(c: Corpus, source: str, held: tuple[str, ...], name: str) -> Split:
    test = (c.source == SOURCES.index(source)) & np.isin(c.task, held)
    return Split(name, test, held)


def mmlu_pro_split(c: Corpus, seed: int, n: int = 3) -> Split:
    rng = np.random.default_rng(100 + seed)
    names = sorted(set(c.task[c.source == SOURCES.index("mmlu_pro")]))
    held = tuple(sorted(rng.permutation(names)[:n]))
    return group_split(c, "mmlu_pro", held, f"mmlu_pro-categories-s{seed}")


def llmrouter_split(c: Corpus, seed: int) -> Split:
    """The generation tasks (the open-ended proxy) plus three other whole tasks."""
    rng = np.random.default_rng(200 + seed)
    names = sorted(set(c.task[c.source == SOURCES.index("llmrouter")]) - set(GENERATION_TASKS))
    held = tuple(sorted(GENERATION_TASKS + tuple(rng.permutation(names)[:3])))
    return group_split(c, "llmrouter", held, f"llmrouter-tasks-s{seed}")


def subsample(c: Corpus, every: int) -> Corpus:
    """Every `every`-th prompt of each source with its cells: the smoke form (whole groups stay represented)."""
    keep = np.flatnonzero(np.arange(len(c.prompts)) % every == 0)
    remap = np.full(len(c.prompts), -1)
    remap[keep] = np.arange(len(keep))
    cells = remap[c.cell_prompt] >= 0
    return Corpus([c.prompts[i] for i in keep], c.source[keep], c.task[keep], c.models, remap[c.cell_prompt[cells]],
                  c.cell_model[cells], c.cell_y[cells])
