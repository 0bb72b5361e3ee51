"""Analytics: signal conditioning, virtual properties, streaming anomaly detection, remaining useful life.

The room depends only on ``twinbridge.aas`` (and numpy/scipy): the twin feeds it samples and it
writes results back through the twin's one write path.
"""
