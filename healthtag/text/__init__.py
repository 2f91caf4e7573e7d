"""The bottom layer: the `Article` record and character-level text normalisation.

Everything above (rules, network, ingestion, training) shares these two
modules, so they import nothing from the rest of the package.
"""
