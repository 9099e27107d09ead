"""Toy data and toy models: the report's sparse features, hierarchies, and the toy models of superposition.

Modules: abs_model, data, geometry, hierarchy, phase, ratios, tms.
"""
