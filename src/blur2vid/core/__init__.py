"""The base floor: Eq. 1, the metrics, tensors, files, seeds, precision, the order of a sequence, and the papers' own numbers."""
