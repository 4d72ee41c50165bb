"""The bundled hardware profiles (TOML files beside this one), installed as package data.

Addressed by name from any folder (``backends.load_profile("loihi2")``); see :mod:`backends.profile`
for their fields.
"""
