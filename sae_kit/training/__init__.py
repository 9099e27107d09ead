"""Training a row of SAEs: the loop, its configuration, optimisers, the learning-rate schedule, remedies, checkpoints,
histories and the α × size grid.

Modules: checkpoint, config, history, loop, optim, remedies, resume, schedule, sweep.
"""
