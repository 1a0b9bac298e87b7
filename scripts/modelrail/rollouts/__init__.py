"""Argo Rollouts through the official `kubernetes` client (the `kubernetes` extra).

- `status`: a Rollout object read as Argo's tools read it (phase, weight), `--until` terms;
- `steps`: the canary steps a policy needs, checked in the manifest;
- `patches`: the plugin's patches (promote, abort, ...) and a set-image's object;
- `objects`: a served object's loosely typed fields;
- `policy`: the `rollout:` section of modelrail.yaml;
- `kube`: credentials, bounded retries, errors that name the RBAC verb and resource;
- `driver`: abort, retry, pause, promote, step, set-image, ensure_steps, wait;
- `connect`: a driver for one rollout, the kubernetes extra imported only then.
"""
