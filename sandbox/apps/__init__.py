"""The applications built on the engine: the command line (``cli``), ``tour`` and ``compare``.

The engine (``sandbox/*.py``) never imports these; they use only its public functions.
"""
