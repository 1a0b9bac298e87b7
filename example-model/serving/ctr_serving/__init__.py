"""HTTP serving for the CTR model: FastAPI app, Prometheus metrics, async prediction log."""

__all__ = ["__version__"]

__version__ = "0.1.0"
