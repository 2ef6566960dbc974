"""evalsuite's version, read from the installed distribution (``pyproject.toml`` states it once)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("evalsuite")
except metadata.PackageNotFoundError:  # a source tree run without installing: say so, never guess
    __version__ = "0+unknown"
