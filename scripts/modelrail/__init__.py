"""modelrail: ship ML models safely from pull request to production."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("modelrail")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
