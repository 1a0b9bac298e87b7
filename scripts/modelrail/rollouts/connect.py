"""A traffic backend for the policy's `rollout:` section (an Argo RolloutDriver, an
IstioBackend or a KServeBackend): the namespace chosen, the kubernetes extra imported
only here, when a command needs the cluster."""

from typing import TYPE_CHECKING

from modelrail.errors import UsageError
from modelrail.rollouts.policy import RolloutConfig, validate_namespace

if TYPE_CHECKING:  # the kubernetes client is an extra, imported when a command runs
    from modelrail.rollouts.backend import TrafficBackend
    from modelrail.rollouts.driver import RolloutDriver
    from modelrail.rollouts.kube import Connection


def _connect(kubeconfig: str | None, namespace_flag: str | None) -> "Connection":
    if namespace_flag:
        validate_namespace(namespace_flag, "--namespace")
    try:
        from modelrail.rollouts.kube import connect  # noqa: PLC0415 - the extra
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] not in ("kubernetes", "urllib3"):
            raise
        raise UsageError("the rollout commands need the kubernetes extra: "
                         "pip install 'modelrail[kubernetes]'") from None
    return connect(kubeconfig)


def open_driver(kubeconfig: str | None, name: str, namespace_flag: str | None,
                policy_namespace: str | None) -> "RolloutDriver":
    """A driver for rollout `name`; the namespace is --namespace, else the policy's, else
    the kubeconfig context's, else default."""
    connection = _connect(kubeconfig, namespace_flag)
    from modelrail.rollouts.driver import RolloutDriver  # noqa: PLC0415 - the extra

    namespace = namespace_flag or policy_namespace or connection.namespace or "default"
    return RolloutDriver(connection.api, name, namespace)


def open_backend(kubeconfig: str | None, name: str, namespace_flag: str | None,
                 rollout: RolloutConfig) -> "TrafficBackend":
    """The backend `rollout.backend` names, for application `name` (the namespace as
    `open_driver` chooses it)."""
    if rollout.backend == "argo" or (rollout.backend == "istio" and rollout.istio is None):
        return open_driver(kubeconfig, name, namespace_flag, rollout.namespace)
    connection = _connect(kubeconfig, namespace_flag)
    namespace = namespace_flag or rollout.namespace or connection.namespace or "default"
    if rollout.istio is not None:
        from modelrail.rollouts.istio_backend import IstioBackend  # noqa: PLC0415 - extra

        return IstioBackend(connection.api, name, namespace, rollout.istio)
    from modelrail.rollouts.kserve_backend import KServeBackend  # noqa: PLC0415 - the extra

    return KServeBackend(connection.api, name, namespace)
