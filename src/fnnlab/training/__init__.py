"""Training: the fit loop, optimizers and schedules, regularization, callbacks,
checkpoints."""
