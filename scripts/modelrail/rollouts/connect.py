"""A RolloutDriver for one Argo Rollout: the namespace chosen, the kubernetes extra
imported only here, when a command needs the cluster."""

from typing import TYPE_CHECKING

from modelrail.errors import UsageError
from modelrail.rollouts.policy import validate_namespace

if TYPE_CHECKING:  # the kubernetes client is an extra, imported when a command runs
    from modelrail.rollouts.driver import RolloutDriver


def open_driver(kubeconfig: str | None, name: str, namespace_flag: str | None,
                policy_namespace: str | None) -> "RolloutDriver":
    """A driver for rollout `name`; the namespace is --namespace, else the policy's, else
    the kubeconfig context's, else default."""
    if namespace_flag:
        validate_namespace(namespace_flag, "--namespace")
    try:
        from modelrail.rollouts.driver import RolloutDriver  # noqa: PLC0415 - the extra
        from modelrail.rollouts.kube import connect  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] not in ("kubernetes", "urllib3"):
            raise
        raise UsageError("the rollout commands need the kubernetes extra: "
                         "pip install 'modelrail[kubernetes]'") from None
    connection = connect(kubeconfig)
    namespace = namespace_flag or policy_namespace or connection.namespace or "default"
    return RolloutDriver(connection.api, name, namespace)
