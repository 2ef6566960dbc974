"""Pure numbers: perplexity family, translation metrics, suite normalisation, paired tests.

Functions of their inputs only (no database, no model, no I/O); each docstring gives the formula
and what it is weighted by. May import numpy, scipy and sacrebleu, and nothing else of evalsuite.
"""
