"""helmmodel: a property-based stateful model checker for the HELM governance kernel."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("helmmodel")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
