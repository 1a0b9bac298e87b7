"""Check the `cluster-auth` inputs of actions/cluster-auth before any credential action runs.

The composite action runs this with the runner's own python (stdlib only, no install):
`python3 -m modelrail.rollouts.cluster_auth`, the inputs in INPUT_* variables. A bad mode,
a missing or malformed input of the chosen mode, or a KUBECONFIG secret next to a cloud
mode stops the job (exit 2) with a message naming the input, before a token is requested.
"""

import difflib
import os
import re
import sys
from collections.abc import Mapping

from modelrail.errors import ExitCode, UsageError

_GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_NAME = r"[A-Za-z0-9][\w.-]*"
# input -> the form it must have (the formats the clouds' APIs accept).
FORMATS: Mapping[str, tuple[str, str]] = {
    "cluster-name": (_NAME, "a cluster name"),
    "aws-role-to-assume": (r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+",
                           "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"),
    "aws-region": (r"[a-z]{2}(?:-[a-z]+)+-\d", "an AWS region (eu-west-1)"),
    "gcp-workload-identity-provider": (
        r"projects/\d+/locations/global/workloadIdentityPools/[\w-]+/providers/[\w-]+",
        "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER"),
    "gcp-service-account": (r"[\w.+-]+@[\w-]+\.iam\.gserviceaccount\.com",
                            "a service account email (NAME@PROJECT.iam.gserviceaccount.com)"),
    "gcp-project": (r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "a project ID"),
    "gke-location": (r"[a-z]+-[a-z]+\d(?:-[a-z])?", "a region or zone (europe-west1)"),
    "azure-client-id": (_GUID, "a GUID"),
    "azure-tenant-id": (_GUID, "a GUID"),
    "azure-subscription-id": (_GUID, "a GUID"),
    "aks-resource-group": (r"[\w().-]{1,90}", "a resource group name"),
}
# mode -> the inputs it needs.
MODES: Mapping[str, tuple[str, ...]] = {
    "kubeconfig": (),
    "eks": ("aws-role-to-assume", "aws-region", "cluster-name"),
    "gke": ("gcp-workload-identity-provider", "gcp-service-account", "gcp-project",
            "gke-location", "cluster-name"),
    "aks": ("azure-client-id", "azure-tenant-id", "azure-subscription-id",
            "aks-resource-group", "cluster-name"),
}


def _env_name(name: str) -> str:
    return "INPUT_" + name.upper().replace("-", "_")


def check(values: Mapping[str, str], kubeconfig_given: bool) -> str:
    """The mode, once `values` (input name -> value) hold all it needs in the right form
    and nothing another mode needs; a UsageError naming the first input that does not.

    Nothing is trimmed: the action's `if:` conditions compare the raw mode, so " eks" or a
    region with a trailing space must fail here rather than slip past every credential step.
    """
    mode = values.get("cluster-auth", "") or "kubeconfig"
    if mode not in MODES:
        nearest = difflib.get_close_matches(mode.strip().lower(), MODES, n=1)
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        raise UsageError(f"cluster-auth: unknown mode {mode!r}{hint}; "
                         f"one of {', '.join(MODES)}")
    if mode != "kubeconfig" and kubeconfig_given:
        raise UsageError(f"cluster-auth: {mode} gets its kubeconfig from the cloud, but the "
                         f"KUBECONFIG secret is set too; pass one of them")
    for name in FORMATS:
        if values.get(name) and name not in MODES[mode]:
            owners = " or ".join(other for other, names in MODES.items() if name in names)
            raise UsageError(f"{name}: set, but cluster-auth is {mode}; it is for {owners}")
    for name in MODES[mode]:
        value = values.get(name, "")
        if not value:
            raise UsageError(f"{name}: required with cluster-auth: {mode}")
        pattern, form = FORMATS[name]
        if not re.fullmatch(pattern, value):
            raise UsageError(f"{name}: {value!r} is not {form}")
    return mode


def main(environ: Mapping[str, str] = os.environ) -> int:
    """Check the INPUT_* variables; exit 2 with an `::error` annotation when they are bad."""
    values = {name: environ.get(_env_name(name), "") for name in ("cluster-auth", *FORMATS)}
    try:
        mode = check(values, environ.get("KUBECONFIG_GIVEN", "") == "true")
    except UsageError as error:
        text = str(error).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error title=modelrail cluster-auth::{text}", flush=True)
        return int(error.exit_code)
    print(f"cluster-auth: {mode}")
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
