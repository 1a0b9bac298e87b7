"""Local stand-ins for the remote APIs modelrail talks to (the Kubernetes API with the Argo
Rollouts, Istio and KServe controllers, GitHub's OIDC token service) that cannot run here;
each answers in JSON through modelrail.local.loopback.json_api_handler."""
