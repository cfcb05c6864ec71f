"""The companion's pipeline: profiles, the notebook run, the batch over seeds, pooling, the paper registry, figures and the book."""
