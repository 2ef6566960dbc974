"""evalsuite package."""
