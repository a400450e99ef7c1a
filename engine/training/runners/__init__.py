"""The ways the trainer can compute a network's batches (runners, `base.Runner`): fused
whole-chunk Numba runners for the networks they know, the general runner's lean step for Dense
chains, and the general layer-by-layer runner for every network; `order.RUNNERS` is the order
the trainer tries them in."""
