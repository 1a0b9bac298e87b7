"""Traffic backends through the official `kubernetes` client (the `kubernetes` extra).

Shared: `backend` (the protocol the canary loop drives, its neutral state, the wait
conditions), `policy` (the `rollout:` section), `kube` (credentials, retries, RBAC
errors), `objects` (loosely typed fields), `connect` (the backend the policy names, the
extra imported only then), `cluster_auth` (the checks of actions/cluster-auth's inputs,
stdlib only: it runs before modelrail is installed).
Argo Rollouts: `status` (a Rollout read as Argo's tools read it), `steps` (the canary steps
a policy needs), `patches` (the plugin's patches, a set-image's object), `istio` (the
mirror route read back from a VirtualService), `driver` (every operation and wait).
Istio: `istio_routes` (the owned VirtualService route, its patches, the state),
`deployments` (a Deployment's rollout status), `istio_backend` (every operation).
KServe: `kserve` (an InferenceService's canary state and patches), `kserve_backend`
(every operation).
"""
