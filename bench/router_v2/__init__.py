"""Routing v2: one quality predictor over every model with data (training, evaluation and export).

Modules: `wordpiece` (the tokenizer reference the Rust side mirrors), `distill` (MiniLM -> static token table),
`represent` (a prompt's vector), `data` (the three training sources), `model` (the predictor), `train`.
"""
