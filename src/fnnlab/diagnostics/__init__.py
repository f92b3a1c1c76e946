"""Diagnostics: signal propagation, shattered gradients, loss landscapes. Each
returns a tidy pandas DataFrame that a function in ``fnnlab.plots`` can draw."""
