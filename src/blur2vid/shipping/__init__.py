"""Only ``python -m blur2vid.shipping``, the older spelling of ``blur2vid ship`` that the committed
model cards' retrain commands call; the code is :mod:`blur2vid.app.shipping`."""
