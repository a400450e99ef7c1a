"""The ways the trainer can compute a network's batches: fused whole-chunk Numba runners for the
networks they know, and the general layer-by-layer step for every network."""
