"""The notebooks' interactive explorers: what they compute, what they draw, and the widgets that wire both.

Modules: explore, plots, widgets.
"""
