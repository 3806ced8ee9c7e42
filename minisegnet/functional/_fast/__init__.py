"""The fast tier of ``minisegnet.functional``: never graded, tested against the reference tier (``minisegnet.backend``)."""
