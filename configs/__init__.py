"""Bundled configuration files (taxonomy and rules, training configs), read with importlib.resources."""
