"""Training: the trainer (epochs, callbacks, pause/stop, live changes, early stopping, divergence),
its control, callbacks, configuration, learning-rate schedules and the health monitor.

The runners that compute the batches live in `engine.training.runners`.
"""
