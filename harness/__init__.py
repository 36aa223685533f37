"""wheel-harness: the release gate for compiled Python wheels."""

__version__ = "0.1.0"
