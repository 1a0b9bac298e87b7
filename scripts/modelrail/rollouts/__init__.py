"""Argo Rollouts through the official `kubernetes` client (the `kubernetes` extra):
`status` (a Rollout read as Argo's tools read it, `--until` terms), `steps` (the canary
steps a policy needs), `patches` (the plugin's patches, a set-image's object), `objects`
(loosely typed fields), `policy` (the `rollout:` section), `kube` (credentials, retries,
RBAC errors), `istio` (the mirror route read back from a VirtualService), `kserve`
(a KServe InferenceService's canary state and patches), `driver`
(every operation and wait), `connect` (a driver, the extra imported only then),
`cluster_auth` (the checks of actions/cluster-auth's inputs, stdlib only: it runs before
modelrail is installed).
"""
