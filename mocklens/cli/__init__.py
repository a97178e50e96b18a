"""Command line (layer L3): click only; parses options, builds a RunConfig, calls the pipeline.

Import rule: the only package that imports click; it holds no numerics.
"""
