"""`modelrail image-meta | image-digest`: the serving image of a registered model version.

Exit codes: 0 done, 2 bad flags/policy/digest or no such version, 3 MLflow unreachable.

Step outputs (with GITHUB_OUTPUT): image-meta → `image`, `version`, `git-sha`, `tags`,
`labels`, `build-args` (newline-separated, as docker/build-push-action takes them);
image-digest → `image` (`<name>@<digest>`), `digest`, `changed`.
"""

import argparse
import os
from pathlib import Path

from modelrail.cli.common import add_config_flag, add_json_flag, write_json
from modelrail.config import Config, load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner
from modelrail.registry.client import Registry
from modelrail.registry.image_meta import image_meta, lines, record_digest, validate_image_name


def _target(args: argparse.Namespace) -> tuple[Config, Registry, str]:
    """The policy, the registry and the registered model the version lives in."""
    if args.version < 1:
        raise UsageError(f"--version: expected a version number >= 1, got {args.version}")
    config = load_config(args.config)
    registry = Registry(config.registry.resolve_tracking_uri(config.source))
    return config, registry, config.registry.registered_model(config.model)


def _image_name(args: argparse.Namespace, config: Config) -> str:
    if args.image:
        return validate_image_name(args.image, "--image")
    if config.image is None:
        raise UsageError(f"no image name: pass --image or set image.name in {config.source}")
    return validate_image_name(config.image.name, f"{config.source}: image.name")


def cmd_image_meta(args: argparse.Namespace) -> ExitCode:
    config, registry, model = _target(args)
    meta = image_meta(registry, model, args.version, _image_name(args, config),
                      env=os.environ, cwd=Path.cwd())
    write_json(args.json, "image-meta", meta.to_json())
    runner.set_output("image", meta.image)
    runner.set_output("version", str(meta.version.version))
    runner.set_output("git-sha", meta.git_sha)
    runner.set_output("tags", "\n".join(meta.tags))
    runner.set_output("labels", lines(meta.labels()))
    runner.set_output("build-args", lines(meta.build_args()))
    print("\n".join(meta.tags))
    rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in meta.labels().items())
    runner.append_summary(
        f"### Image for {meta.version.ref}\n\n" + "\n".join(f"- `{t}`" for t in meta.tags)
        + f"\n\n| label | value |\n|---|---|\n{rows}")
    return ExitCode.OK


def cmd_image_digest(args: argparse.Namespace) -> ExitCode:
    _config, registry, model = _target(args)
    record = record_digest(registry, model, args.version, args.image, args.digest)
    write_json(args.json, "image-digest", record.to_json())
    runner.set_output("image", record.image)
    runner.set_output("digest", record.digest)
    runner.set_output("changed", "true" if record.changed else "false")
    if not record.changed:
        print(f"{record.version.ref} already records {record.image}; nothing changed")
    elif record.previous and record.previous != record.digest:
        print(f"{record.version.ref}: image_digest {record.previous} replaced by "
              f"{record.digest} ({record.image})")
    else:
        print(f"{record.version.ref}: recorded {record.image}")
    return ExitCode.OK


def add_image_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") \
        -> None:
    """Add image-meta and image-digest to the `modelrail` parser."""
    meta = commands.add_parser(
        "image-meta", help="tags, labels and build args of a model version's serving image")
    add_config_flag(meta)
    meta.add_argument("--version", type=int, required=True, metavar="N",
                      help="registered model version")
    meta.add_argument("--image", metavar="NAME",
                      help="image repository, e.g. ghcr.io/acme/ranker (default: image.name)")
    add_json_flag(meta)
    meta.set_defaults(handler=cmd_image_meta)

    digest = commands.add_parser(
        "image-digest", help="record the pushed image digest on the model version")
    add_config_flag(digest)
    digest.add_argument("--version", type=int, required=True, metavar="N",
                        help="registered model version")
    digest.add_argument("--digest", required=True, metavar="sha256:HEX",
                        help="digest the registry answered the push with")
    digest.add_argument("--image", required=True, metavar="REF",
                        help="image pushed (name, name:tag or name@digest)")
    add_json_flag(digest)
    digest.set_defaults(handler=cmd_image_digest)
