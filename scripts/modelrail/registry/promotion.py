"""Promotion and rollback between environments: the rules, and the registry writes.

One module owns every alias move, so the rules (environments in order, gated versions
only) and the write order that keeps the registry consistent under concurrent promotions
cannot drift apart. The layouts, rules, records and race ordering: docs/promotion.md.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from modelrail.errors import ExitCode, ModelrailError, UsageError
from modelrail.registry.client import Registry, VersionInfo
from modelrail.registry.config import ModelPolicy
from modelrail.registry.lineage import VALIDATION_STATUS, clip, workflow_run_url

if TYPE_CHECKING:
    from mlflow import MlflowClient

PROMOTED_BY = "promoted_by"
PROMOTED_AT = "promoted_at"
PROMOTED_TO = "promoted_to"
FROM_ENV = "from_env"
SOURCE_VERSION = "source_version"
PROMOTED_RUN_URL = "promoted_run_url"
REASON = "reason"
PREVIOUS_VERSION = "previous_version."  # + env
SOURCE_MODEL_VERSION = "source_model_version"
ORIGIN_VERSION = "origin_version"
ROLLED_BACK_BY = "rolled_back_by"
ROLLED_BACK_AT = "rolled_back_at"
ROLLED_BACK_REASON = "rolled_back_reason"
ROLLED_BACK_ENV = "rolled_back_env"
ROLLED_BACK_TO = "rolled_back_to"
NONE = "none"

# Bookkeeping of one model's history: not carried over when a version is copied.
_NOT_COPIED = (PROMOTED_BY, PROMOTED_AT, PROMOTED_TO, FROM_ENV, SOURCE_VERSION,
               PROMOTED_RUN_URL, REASON, SOURCE_MODEL_VERSION, ORIGIN_VERSION,
               ROLLED_BACK_BY, ROLLED_BACK_AT, ROLLED_BACK_REASON, ROLLED_BACK_ENV,
               ROLLED_BACK_TO)


class RefusedError(ModelrailError):
    """The rules or the registry's state say no (exit 1); the message says why."""

    exit_code = ExitCode.REJECTED


@dataclass(frozen=True)
class Environments:
    """The configured environments of one model, in promotion order."""

    model: str
    config: ModelPolicy

    @classmethod
    def from_config(cls, config: ModelPolicy) -> "Environments":
        return cls(config.model, config)

    @property
    def names(self) -> tuple[str, ...]:
        return self.config.registry.environments

    def index(self, env: str, flag: str) -> int:
        if env not in self.names:
            raise UsageError(f"{flag}: unknown environment {env!r}; {self.config.source} "
                             f"configures {', '.join(self.names)}")
        return self.names.index(env)

    def model_for(self, env: str) -> str:
        return self.config.registry.model_for(env, self.model)

    def alias_for(self, env: str) -> str:
        return self.config.registry.alias_for(env)

    @property
    def registered_model(self) -> str:
        return self.config.registry.registered_model(self.model)

    def holder(self, registry: Registry, env: str) -> VersionInfo | None:
        return registry.alias_holder(self.model_for(env), self.alias_for(env))


@dataclass(frozen=True)
class Actor:
    """Who and what is acting, recorded on every change."""

    name: str
    at: str
    run_url: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str], now: datetime | None = None) -> "Actor":
        name = (env.get("GITHUB_ACTOR") or env.get("GITLAB_USER_LOGIN") or env.get("USER")
                or env.get("LOGNAME") or "unknown")
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        return cls(name=name, at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   run_url=workflow_run_url(env))


@dataclass(frozen=True)
class Outcome:
    """The result of a promote or rollback, for stdout, --json and step outputs."""

    action: Literal["promote", "rollback"]
    env: str
    model: str
    alias: str
    version: int | None  # None only in a dry run whose copy (`models` layout) is not made yet
    changed: bool
    previous_version: int | None
    message: str
    origin_version: int | None = None
    source: str | None = None
    from_env: str | None = None
    dry_run: bool = False

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model}@{self.alias}"

    def to_json(self) -> dict[str, object]:
        return {
            "action": self.action, "env": self.env, "model": self.model,
            "alias": self.alias, "version": self.version, "model_uri": self.model_uri,
            "changed": self.changed, "previous_version": self.previous_version,
            "origin_version": self.origin_version, "source": self.source,
            "from_env": self.from_env, "dry_run": self.dry_run, "message": self.message,
        }


def origin_of(version: VersionInfo) -> int:
    """The version number `register` gave this release (copies carry it as a tag)."""
    raw = version.tags.get(ORIGIN_VERSION, "")
    return int(raw) if raw.isdigit() else version.version


def previous_of(version: VersionInfo, env: str) -> int | None:
    raw = version.tags.get(PREVIOUS_VERSION + env, "")
    return int(raw) if raw.isdigit() else None


def _number(version: VersionInfo | None) -> int | None:
    return version.version if version is not None else None


def promote(
    registry: Registry,
    envs: Environments,
    to: str,
    *,
    version: int | None = None,
    from_env: str | None = None,
    force: bool = False,
    reason: str | None = None,
    actor: Actor,
    dry_run: bool = False,
) -> Outcome:
    """Point `to`'s alias at the release given by `version` or held by `from_env`.

    With `dry_run`, every rule is checked against the registry as it is now and nothing
    is written: the outcome says which release would move (a gate before the move, e.g.
    the shadow analysis in promote.yml, needs to know it)."""
    to_index = envs.index(to, "--to")
    from_given = from_env is not None
    if version is None and from_env is None:  # the default: one step forward
        if to_index == 0:
            raise UsageError(f"--to {to} is the first environment: pass --version N")
        from_env = envs.names[to_index - 1]
    _check_flags(envs, to, version=version, from_env=from_env, force=force, reason=reason)
    target_model, alias = envs.model_for(to), envs.alias_for(to)
    current = registry.alias_holder(target_model, alias)

    base: VersionInfo | None = None
    if from_env is not None:
        source = envs.holder(registry, from_env)
        if source is None:
            where = (f"models:/{envs.model_for(from_env)}@{envs.alias_for(from_env)}")
            said = (f"--from {from_env}: {where} points at no version" if from_given else
                    f"the previous environment {from_env} holds no version ({where})")
            raise RefusedError(f"{said}; nothing to promote to {to}. "
                               f"{environment_state(envs.names, _held(registry, envs), to)}")
        origin = origin_of(source)
    elif version is not None:
        base = registry.get_version(envs.registered_model, version)
        if base is None:
            raise UsageError(f"--version {version}: {envs.registered_model} has no version "
                             f"{version}")
        source, origin = base, version
    else:  # pragma: no cover - _check_flags demands one of the two
        raise UsageError("pass one of --version N and --from ENV")

    if current is not None and origin_of(current) == origin:
        return Outcome(
            "promote", to, target_model, alias, current.version, changed=False,
            previous_version=previous_of(current, to), origin_version=origin,
            message=f"{to} already holds {current.ref} (release {origin}); nothing to do. "
                    f"{environment_state(envs.names, _held(registry, envs), to)}")

    if base is not None:
        source, from_env = _find_source(registry, envs, to_index, origin, base)
        expected = envs.names[to_index - 1] if to_index > 0 else None
        if expected is not None and from_env != expected and not force:
            raise UsageError(
                f"--version {origin} does not hold {expected} "
                f"(models:/{envs.model_for(expected)}@{envs.alias_for(expected)}); "
                f"promote it to {expected} first, or pass --force and --reason to skip "
                f"{expected}")

    status = source.tags.get(VALIDATION_STATUS, "unvalidated")
    if status != "passed":
        raise RefusedError(
            f"{source.ref} has validation_status={status}: only versions that passed the "
            "quality gate are promoted (register it with --gate-report from a passing "
            "`modelrail gate --json`)")
    if dry_run:
        return _planned(registry, to, target_model=target_model, alias=alias, source=source,
                        current=current, origin=origin, from_env=from_env)

    target = source if source.name == target_model else \
        _copy_into(registry, source, target_model, origin)
    tags = {
        PREVIOUS_VERSION + to: str(current.version) if current is not None else NONE,
        PROMOTED_TO: to,
        FROM_ENV: from_env or NONE,
        SOURCE_VERSION: str(source.version),
        PROMOTED_BY: actor.name,
        PROMOTED_AT: actor.at,
        PROMOTED_RUN_URL: actor.run_url or NONE,
        REASON: clip(reason or ""),
    }
    registry.set_version_tags(target_model, target.version, tags)
    _move_alias(registry, to, model=target_model, alias=alias, version=target.version,
                expected=current)
    was = f"was {current.ref}" if current is not None else "first version there"
    return Outcome(
        "promote", to, target_model, alias, target.version, changed=True,
        previous_version=_number(current), origin_version=origin, source=source.ref,
        from_env=from_env,
        message=f"promoted {target.ref} to {to}: models:/{target_model}@{alias} ({was})")


def _held(registry: Registry, envs: Environments) -> dict[str, int | None]:
    """The release (origin version) each environment holds now; None where none."""
    holders = {env: envs.holder(registry, env) for env in envs.names}
    return {env: origin_of(v) if v is not None else None for env, v in holders.items()}


def environment_state(names: Sequence[str], held: Mapping[str, int | None], to: str) -> str:
    """What each environment holds and which newer release waits before `to`: said
    whenever a promotion moves nothing, so a no-op is never mistaken for a success."""
    holds = ", ".join(f"{env} → {_release(held.get(env))}" for env in names)
    before = names[:names.index(to)]
    current = held.get(to)
    newer = [(release, i) for i, env in enumerate(before)
             if (release := held.get(env)) is not None and (current is None or release > current)]
    if not newer:
        return f"Held now: {holds}; no newer release waits before {to}."
    release, index = max(newer)  # the newest release, in its furthest environment
    return (f"Held now: {holds}; release {release} waits in {before[index]} "
            f"(next: promote it to {names[index + 1]}).")


def _release(number: int | None) -> str:
    return "none" if number is None else f"release {number}"


def _planned(registry: Registry, to: str, *, target_model: str, alias: str,
             source: VersionInfo, current: VersionInfo | None, origin: int,
             from_env: str | None) -> Outcome:
    """The outcome of a dry run: what `promote` would do now, with nothing written."""
    if source.name == target_model:
        version: int | None = source.version
    else:
        copies = registry.find_versions(target_model, {SOURCE_MODEL_VERSION: source.ref})
        version = copies[0].version if copies else None
    was = f"now {current.ref}" if current is not None else "no version there yet"
    return Outcome(
        "promote", to, target_model, alias, version, changed=True,
        previous_version=_number(current), origin_version=origin, source=source.ref,
        from_env=from_env, dry_run=True,
        message=f"dry run: would promote release {origin} ({source.ref}) to {to}: "
                f"models:/{target_model}@{alias} ({was}); nothing written")


def _check_flags(envs: Environments, to: str, *, version: int | None,
                 from_env: str | None, force: bool, reason: str | None) -> None:
    to_index = envs.index(to, "--to")
    if (version is None) == (from_env is None):
        raise UsageError("pass exactly one of --version N and --from ENV")
    if version is not None and version < 1:
        raise UsageError(f"--version: expected a version number >= 1, got {version}")
    if force and not (reason and reason.strip()):
        raise UsageError("--force needs --reason TEXT: say why the environment order is "
                         "skipped (it is recorded on the version)")
    if from_env is None:
        return
    from_index = envs.index(from_env, "--from")
    if from_index >= to_index:
        raise UsageError(f"--from {from_env} --to {to}: promotion goes forward through "
                         f"{' → '.join(envs.names)}; use `modelrail rollback --env {to}` "
                         "to go back")
    if to_index > from_index + 1 and not force:
        skipped = ", ".join(envs.names[from_index + 1:to_index])
        raise UsageError(f"--from {from_env} --to {to} skips {skipped}; pass --force and "
                         "--reason to skip environments")


def _find_source(registry: Registry, envs: Environments, to_index: int, origin: int,
                 base: VersionInfo) -> tuple[VersionInfo, str | None]:
    """The nearest earlier env holding release `origin`, else the registered version."""
    for env in reversed(envs.names[:to_index]):
        holder = envs.holder(registry, env)
        if holder is not None and origin_of(holder) == origin:
            return holder, env
    return base, None


def _copy_into(registry: Registry, source: VersionInfo, target_model: str,
               origin: int) -> VersionInfo:
    """The copy of `source` in `target_model`: reused when one exists, else created."""
    identity = {SOURCE_MODEL_VERSION: source.ref}
    tags = {k: v for k, v in source.tags.items()
            if k not in _NOT_COPIED and not k.startswith(PREVIOUS_VERSION)}
    tags.update({SOURCE_MODEL_VERSION: source.ref, ORIGIN_VERSION: str(origin)})

    def create(client: "MlflowClient") -> Any:
        # What copy_model_version sends, with our identity tag in the same request.
        return client.create_model_version(
            target_model, source.uri, run_id=source.run_id, tags=tags,
            description=source.description, await_creation_for=0, model_id=source.model_id)

    copy, created = registry.ensure_version(
        target_model, identity, f"copy {source.ref} into {target_model}", create)
    if created:
        copies = registry.find_versions(target_model, identity)
        if copies and copies[0].version != copy.version:  # a concurrent twin won
            registry.delete_version(target_model, copy.version)
            return copies[0]
    return copy


def _move_alias(registry: Registry, env: str, *, model: str, alias: str, version: int,
                expected: VersionInfo | None) -> None:
    """Steps 3-5 of the race ordering (docs/promotion.md): check, set, read back."""
    before = registry.alias_holder(model, alias)
    if _number(before) != _number(expected):
        raise _lost_race(env, model, alias, version, before)
    registry.set_alias(model, alias, version)
    after = registry.alias_holder(model, alias)
    if _number(after) != version:
        raise _lost_race(env, model, alias, version, after)


def _lost_race(env: str, model: str, alias: str, version: int,
               holder: VersionInfo | None) -> ModelrailError:
    now = f"version {holder.version}" if holder is not None else "no version"
    return RefusedError(f"{env} now holds {now} promoted concurrently "
                        f"(models:/{model}@{alias}); this run's move to version {version} "
                        "did not take effect: check the other run, then re-run if still "
                        "wanted")


def rollback(
    registry: Registry,
    envs: Environments,
    env: str,
    *,
    expected: int | None = None,
    reason: str | None = None,
    actor: Actor,
) -> Outcome:
    """Move `env`'s alias back to the version its holder's `previous_version.<env>` names.

    With `expected` (the version being rolled back) a re-run converges: when `env`
    already holds that version's previous version, nothing is written.
    """
    envs.index(env, "--env")
    model, alias = envs.model_for(env), envs.alias_for(env)
    uri = f"models:/{model}@{alias}"
    current = registry.alias_holder(model, alias)
    if current is None:
        raise RefusedError(f"{uri} points at no version; nothing to roll back")
    if expected is not None and current.version != expected:
        gone = registry.get_version(model, expected)
        if gone is not None and gone.tags.get(ROLLED_BACK_ENV) == env \
                and previous_of(gone, env) == current.version:
            return Outcome("rollback", env, model, alias, current.version, changed=False,
                           previous_version=expected,
                           message=f"{env} was already rolled back from version {expected} "
                                   f"to {current.version}; nothing to do")
        raise RefusedError(f"--version {expected}: {uri} holds version {current.version}, "
                               f"not {expected}; nothing rolled back")
    previous = previous_of(current, env)
    if previous is None:
        raise RefusedError(
            f"{uri} (version {current.version}) has no previous version recorded for {env} "
            f"(tag {PREVIOUS_VERSION}{env} is "
            f"{current.tags.get(PREVIOUS_VERSION + env, 'missing')!r}); nothing to roll "
            "back to")
    target = registry.get_version(model, previous)
    if target is None:
        raise RefusedError(f"{uri}: previous version {previous} no longer exists in "
                               f"{model}; nothing rolled back")
    registry.set_version_tags(model, current.version, {
        ROLLED_BACK_ENV: env,
        ROLLED_BACK_TO: str(previous),
        ROLLED_BACK_BY: actor.name,
        ROLLED_BACK_AT: actor.at,
        ROLLED_BACK_REASON: clip(reason or ""),
    })
    _move_alias(registry, env, model=model, alias=alias, version=previous, expected=current)
    return Outcome("rollback", env, model, alias, previous, changed=True,
                   previous_version=current.version, origin_version=origin_of(target),
                   message=f"rolled {env} back from version {current.version} to {previous}: "
                           f"{uri}")
