"""Which model server answers a user: a pure function of the settings and the user id.

No state is kept: the variant comes from ``modelrail.ab.assign`` (GrowthBook hash v2 of
experiment key + user id), so every replica and every restart sends a user to the same
variant, and an analysis can recompute any assignment offline.

A ``Route`` is a plan, not just a name: ``primary`` answers the user; ``mirrors`` holds
the shadow variant (``SHADOW``), which gets an asynchronous copy of the request whose
answers are logged but never returned (``ctr_router.shadow``). Assignment ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelrail.ab import assign

from ctr_router.config import RouterSettings, Variant


@dataclass(frozen=True)
class Route:
    primary: Variant
    in_experiment: bool  # False: outside coverage, served by the control, not analysed
    experiment: str
    mirrors: tuple[Variant, ...] = ()

    @property
    def stamp(self) -> dict[str, str]:
        """What goes into the forwarded body, hence into the model server's prediction log.

        Users outside the experiment get no stamp: their lines carry no experiment or
        variant, so no analysis counts them as control users (GrowthBook's inExperiment).
        """
        if not self.in_experiment:
            return {}
        return {"experiment": self.experiment, "variant": self.primary.name}


def route(settings: RouterSettings, user_id: str) -> Route:
    index = assign(settings.experiment, user_id, settings.weights, settings.coverage)
    mirrors = (settings.shadow,) if settings.shadow else ()
    if index is None:
        return Route(primary=settings.control, in_experiment=False,
                     experiment=settings.experiment, mirrors=mirrors)
    return Route(primary=settings.variants[index], in_experiment=True,
                 experiment=settings.experiment, mirrors=mirrors)
