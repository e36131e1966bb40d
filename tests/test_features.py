"""The Rust text pass: token estimate against o200k_base, parity with the Python reference, signals, language."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bench import train_router as tr
from bench.router_v2 import reference, represent, wordpiece
from proxy.routing.model_routing import load_weights, new_router

Router = pytest.importorskip("proxy._scorer").Router
ROOT = Path(__file__).resolve().parents[1]

ENGLISH = [
    # Plain prose of the kind users send: questions, instructions, a pasted paragraph.
    "The history of the printing press is often told as the story of a single inventor, but the technology "
    "grew out of centuries of work on paper, ink, and metal casting. Johannes Gutenberg combined movable "
    "type with an oil-based ink and a screw press adapted from wine making, and by the 1450s his workshop in "
    "Mainz was producing books at a pace no scriptorium could match. Within fifty years, presses were "
    "running in more than two hundred European cities, and the price of a book had fallen dramatically. "
    "Historians still debate how quickly literacy followed, since owning a book and reading one are not "
    "the same thing, yet few doubt that cheap print changed how ideas travelled.",
    "Could you help me plan a three-day trip to Lisbon in early October? I like walking, small museums and "
    "good seafood, but I don't enjoy crowded tourist spots. I'll be staying near Alfama and I'd rather use "
    "trams and my own two feet than taxis. Please suggest a rough schedule for each day, a couple of "
    "restaurants that locals actually go to, and anything I should book in advance. Also, is it worth "
    "taking a day trip to Sintra, or would that eat too much of the time I have?",
    "Summarise the following meeting notes in five bullet points for the engineering team. The release was "
    "delayed by two weeks because the payment provider changed its API without notice. QA found eleven "
    "regressions, of which three were blockers; all three are now fixed and verified. The mobile team asked "
    "for a feature freeze from Friday. Marketing wants the launch email to go out on the same day as the "
    "release, which means we need a firm date by Wednesday. Finally, on-call rotations change next month.",
]


@pytest.fixture(scope="module")
def router() -> Any:
    return new_router()


@pytest.fixture(scope="module")
def o200k() -> Any:
    bpe = pytest.importorskip("bpe_openai")
    return bpe.get_encoding("o200k_base")


def relative_error(router: Any, enc: Any, text: str) -> float:
    return abs(router.features(text)["est_tokens"] / len(enc.encode(text)) - 1)


@pytest.mark.parametrize("i", range(len(ENGLISH)))
def test_token_estimate_within_10_percent_on_english(router: Any, o200k: Any, i: int) -> None:
    assert relative_error(router, o200k, ENGLISH[i]) <= 0.10


def code_samples() -> list[Path]:
    files = sorted(ROOT.glob("proxy/**/*.py")) + sorted(ROOT.glob("scorer_rs/src/**/*.rs"))
    return [f for f in files if f.stat().st_size > 2000][:40]


@pytest.mark.parametrize("path", code_samples(), ids=lambda p: str(p.relative_to(ROOT)))
def test_token_estimate_within_10_percent_on_code(router: Any, o200k: Any, path: Path) -> None:
    assert relative_error(router, o200k, path.read_text()) <= 0.10


@pytest.mark.skipif(not tr.DATA.exists(), reason="training data not present")
def test_token_estimate_on_benchmark_prompts(router: Any, o200k: Any) -> None:
    """MMLU/GSM8K prompts: in aggregate within 3%, and batches of 20 prompts each within 10%."""
    prompts = random.Random(0).sample(tr.load().prompts, 400)
    est = [router.features(p)["est_tokens"] for p in prompts]
    true = [len(o200k.encode(p)) for p in prompts]
    assert abs(sum(est) / sum(true) - 1) <= 0.03
    for k in range(0, 400, 20):
        assert abs(sum(est[k:k + 20]) / sum(true[k:k + 20]) - 1) <= 0.10


PARITY_SAMPLES = [
    "",
    "A. 3\nB. 4",
    "naïve café — résumé 東京 🚀 A. 1\nB. x",
    "camelCaseWord HTTPServer x1y2 snake_case 3.14159 $1,200",
    "What is 12 + 30?\nA. 42\nB. 40\nC. forty\nD. 7\nAnswer:",
    "Translate into French: thanks, how are you? Then write a poem and solve the equation x^2=4.",
]


def assert_same_features(router: Any, text: str) -> None:
    got = router.features(text)
    ref = tr.prompt_features(text)
    assert sorted(got["ids"]) == sorted(ref.ids), text[:80]
    assert got["dense"] == pytest.approx(ref.dense, rel=1e-12, abs=1e-12), text[:80]
    assert got["dense_names"] == list(tr.DENSE_NAMES)


@pytest.mark.parametrize("text", PARITY_SAMPLES)
def test_rust_text_pass_matches_the_python_reference(router: Any, text: str) -> None:
    assert_same_features(router, text)


@pytest.mark.skipif(not tr.DATA.exists(), reason="training data not present")
def test_parity_on_training_prompts(router: Any) -> None:
    for text in random.Random(1).sample(tr.load().prompts, 500):
        assert_same_features(router, text)


def test_latent_matches_the_python_reference(router: Any) -> None:
    """The predictor's latent vector from Rust equals bench/router_v2/reference.py on the same weights."""
    w = load_weights()
    table = represent.StaticTable.load()
    for text in PARITY_SAMPLES[1:] + ENGLISH + ["Ünïcödé café naïve résumé, 東京 and emoji 🎉?", "```py\nx = $y$\n```"]:
        s = router.score(text)
        assert s["z"] == pytest.approx(reference.latent(text, w, table), abs=1e-9)
        assert s["embedding_tokens"] == len(wordpiece.token_ids(text, table.vocab))
        assert s["form"] == represent.form_features(text)


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Write a Python function that parses this JSON string and fix the bug in the loop.", "code"),
        ("Solve the equation and calculate the probability that the sum of two dice is prime.", "math"),
        ("Explain why the argument is invalid and justify each step of your reasoning.", "reasoning"),
        ("Extract the names and dates from this text and list them in a table.", "extraction"),
        ("Translate this paragraph into German and Japanese.", "translation"),
        ("Write a short story and a poem about a lighthouse keeper.", "creative"),
        ("hey, thanks so much! how are you doing?", "chitchat"),
        ("The mitochondrion.", "general"),
    ],
)
def test_task_signals(router: Any, text: str, task: str) -> None:
    assert router.features(text)["task"] == task


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What is the capital of France, and why is it there?", "en"),
        ("¿Cuál es la capital de Francia y por qué es una ciudad tan grande?", "es"),
        ("Quelle est la capitale de la France et pourquoi est-elle dans le nord?", "fr"),
        ("Was ist die Hauptstadt von Deutschland und warum ist das nicht Bonn?", "de"),
        ("Какая столица России?", "ru"),
        ("日本の首都はどこですか", "ja"),
        ("中国的首都是哪里", "zh"),
    ],
)
def test_language(router: Any, text: str, language: str) -> None:
    assert router.features(text)["language"] == language
