"""What a model is as evaluated: model resolution and fingerprints, the identity record (the request cache's key), the environment stored with a run.

May import store, metrics and the base modules only.
"""

from __future__ import annotations
