"""
Grid LSTM learns parity where a deep tanh network does not
==========================================================

Kalchbrenner, Danihelka & Graves (2015) give a network all k bits of a random
string at once and ask for their parity. A Grid LSTM gates its signal along depth
the way an LSTM gates it along time, and learns the task; a plain deep tanh
network of the same depth and about the same number of parameters stays at chance
(50 %), and so, at this small scale, does a highway network.

:func:`fnnlab.experiments.grid_lstm.parity_experiment` trains the three models on
fresh batches with Adam and reports test accuracy. This page uses a small setting
(k = 12 bits, 400 steps of batches of 128); ``examples/grid_lstm_parity.py`` runs the
larger one (k = 16, minutes on one core).
"""

import matplotlib.pyplot as plt

from fnnlab.experiments.grid_lstm import parity_experiment

k = 12
result = parity_experiment(k, depth=8, hidden_size=32, steps=400,
                           batch_size=128, lr=5e-3, n_test=2000, seed=0)
print(result[["model", "params", "steps", "final_loss", "test_accuracy", "solved_at"]]
      .round(4).to_string(index=False))

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.bar(result["model"], result["test_accuracy"], color=["C0", "C1", "C2"])
ax.axhline(0.5, color="grey", ls="--", lw=0.8, label="chance")
ax.set(ylim=(0, 1.05), ylabel="test accuracy",
       title=f"{k}-bit parity, depth 8, about {int(result['params'].median())} parameters")
ax.legend()
