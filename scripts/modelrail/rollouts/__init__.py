"""Argo Rollouts through the official `kubernetes` client (the `kubernetes` extra).

- `state`: a Rollout object read as Argo's tools read it (phase, weight, steps, patches);
- `policy`: the `rollout:` section of modelrail.yaml;
- `kube`: credentials, bounded retries, errors that name the RBAC verb and resource;
- `driver`: abort, retry, pause, promote, step, set-image, ensure_steps, wait;
- `connect`: a driver for one rollout, the kubernetes extra imported only then.
"""
