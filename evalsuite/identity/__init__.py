"""What is evaluated: the run description (small frozen values), what changes a number (``numbers``: the cache,
resume and board keys), model resolution and fingerprints, the identity record, the environment stored with a run.

May import its own layer (tasks, backends: the registry's names), store, metrics and the base modules.
"""

from __future__ import annotations
