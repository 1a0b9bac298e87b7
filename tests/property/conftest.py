"""Hypothesis profiles for the property suite: `ci` is derandomized (the same examples on
every run, so a red build is reproducible) and `dev` explores new ones. Both keep the
whole suite well under a minute and write no example database into the checkout.

Choose with HYPOTHESIS_PROFILE; the default is `ci` under CI (CI or GITHUB_ACTIONS set),
else `dev`. MODELRAIL_PROPERTY_SCALE=20 runs twenty times the examples (a deep local hunt;
see `examples` in strategies.py).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True)
settings.load_profile(os.environ.get(
    "HYPOTHESIS_PROFILE",
    "ci" if os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS") else "dev"))
