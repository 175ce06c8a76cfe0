"""Code generators, one module per target (installed as ``stepc.backends``)."""
