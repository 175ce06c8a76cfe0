"""What runs inside every engine: ``stepc exec``, the artifact store and serialisation.

The runtime knows the IR and the store, nothing else; backends and the local interpreter all
run steps through :func:`stepc.runtime.exec.execute`.
"""
