"""Analysis of trained SAEs: recovery metrics, feature-count estimates, recipe comparisons, absorption and collapse.

Modules: abs_hidden, absorption, absorption_rows, collapse, compare, estimate, metrics, recovery, undertraining.
"""
