"""Lava processes of our own, for neuron models lava-nc 0.10 does not ship.

Each module defines its processes and their ``floating_pt`` and ``fixed_pt`` ProcessModels side by
side: Lava's compiler looks for a process's models in the process's own module and in the other
modules of its package, so this package holds nothing but such modules (importing one imports
lava-nc; :mod:`backends.lava` imports them only when it builds a run).
"""
