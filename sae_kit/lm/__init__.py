"""The language-model layer: the tiny LM, its corpus and tokenizer, activations, held-out evaluation, and what is
measured on LM SAEs.

Modules: activations, analysis, attribution, corpus, heldout, metrics, model, scoring, tokenizer, train.
"""
