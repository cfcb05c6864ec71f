"""Training: the one loop (`loop.fit`), run identity and checkpoints, and each network's training procedure."""
