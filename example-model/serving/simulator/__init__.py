"""Traffic simulator for A/B tests of the CTR model: users with a known true effect.

It plays users through the router (``ctr_router``) and writes the business events that
follow the predictions, so an analysis of prediction logs + events has a known answer:

- users, their sessions, the items they are shown, the uniform draws that decide clicks
  and the session durations are all fixed by the seed (``simulator.population``), before
  any request is sent; only the variant comes from the router;
- a row is clicked when its draw is below the true click probability of the pipeline's
  ground truth (``ctr_model.prepare.true_probability``), times ``1 + effect`` in the
  treatment variant. Sharing the draws between variants (common random numbers) means an
  A/A run and an A/B run of the same seed differ only by the effect;
- session duration does not depend on the variant (the guardrail's true effect is 0).
"""
