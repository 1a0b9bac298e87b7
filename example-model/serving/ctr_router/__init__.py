"""ctr_router: assigns each user to a model variant and forwards the request to it.

A separate small service in front of the model servers, not part of the model image: it
depends on the ``modelrail`` package for ``modelrail.ab.assign`` (GrowthBook-compatible
hashing), which the model image does not install.
"""

__version__ = "0.1.0"
