"""Click commands, one module per family; imported lazily by :mod:`stepc.cli`."""
