"""A recording `modelrail` for the tests of the CI scripts that call it (the canary step on
GitHub and GitLab): it appends each call to $CALLS as a JSON line (its arguments, and the
--kubeconfig file's mode and text while it runs) and exits with $FAIL_<COMMAND>, e.g.
FAIL_CANARY=1 for `modelrail canary ...`."""

KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user: {token: s3cr3t-token}\n"
FAKE_MODELRAIL = """#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
entry = {"args": args}
if "--kubeconfig" in args:
    path = args[args.index("--kubeconfig") + 1]
    entry.update(path=path, mode=oct(os.stat(path).st_mode & 0o777), text=open(path).read())
with open(os.environ["CALLS"], "a") as calls:
    calls.write(json.dumps(entry) + "\\n")
sys.exit(int(os.environ.get("FAIL_" + args[0].upper(), "0")))
"""
