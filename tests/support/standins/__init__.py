"""Local stand-ins for the remote APIs modelrail talks to (GitHub, Argo Rollouts) that
cannot run here."""
