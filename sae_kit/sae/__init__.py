"""Sparse autoencoders: the shared base, one class per architecture, their configuration, initialisation and the
SAELens folder format.

Modules: architectures, base, config, deep_sae, dictionary_init, saelens, stacked.
"""
