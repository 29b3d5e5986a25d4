"""The configuration: loaded once, fully validated, injected.

Holds the loader with its secrets (`loader`), the section models with every key's type, default
and description (`sections`) and strict TOML reading (`tomlfile`). May import only the base
modules (errors, models): every other package may import this one.
"""
