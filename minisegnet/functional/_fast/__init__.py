"""The fast tier of ``minisegnet.functional``: never graded, tested against the reference tier.

Chosen by the one setting in ``minisegnet.backend`` (``set_impl``/``use_impl``).
"""
