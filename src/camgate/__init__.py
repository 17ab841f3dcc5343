"""camgate: an open-source mobile server for video surveillance."""

__version__ = "0.1.0"
__all__ = ["__version__"]
