"""Phase, weight and pause reasons read as Argo's tools read them; promote's exact patches."""

from typing import Any

import pytest
from modelrail.errors import UsageError
from modelrail.rollouts.patches import PromotePlan, image_patch, pick_container, plan_promote
from modelrail.rollouts.policy import MirrorConfig
from modelrail.rollouts.status import (
    RolloutState,
    active_mirror,
    current_weight,
    desired_weight,
    generation_observed,
    rollout_phase,
)
from modelrail.rollouts.steps import check_steps, step_mismatches

from tests.support.builders.rollouts import rollout, steps

ABORTED_CONDITION = {"type": "Progressing", "status": "False", "reason": "RolloutAborted",
                     "message": "Rollout aborted update to revision 2"}


class TestPhase:
    @pytest.mark.parametrize(("counts", "routing", "why"), [
        ({"updatedReplicas": 1}, True, "more replicas need to be updated"),
        ({"updatedReplicas": 2, "availableReplicas": 1}, True,
         "updated replicas are still becoming available"),
        ({"replicas": 3}, False, "old replicas are pending termination"),
    ])
    def test_healthy_is_read_only_when_the_replica_counts_agree(
            self, counts: dict[str, int], routing: bool, why: str) -> None:
        """CalculateRolloutPhase (utils/rollout/rolloututil.go): a Healthy phase next to
        replica counts that contradict it is not trusted."""
        obj = rollout(phase="Healthy", stableRS="new")
        obj["spec"]["replicas"] = 2
        obj["status"].update({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                              **counts})
        if routing:
            obj["spec"]["strategy"]["canary"]["trafficRouting"] = {"nginx": {}}
        assert rollout_phase(obj) == ("Progressing", why)
        obj["status"].update(replicas=2, updatedReplicas=2, availableReplicas=2)
        assert rollout_phase(obj) == ("Healthy", "")

    def test_a_progress_deadline_abort_names_progress_deadline_exceeded(self) -> None:
        """evaluateProgressDeadlineAbort (rollout/sync.go) aborts with the time-out message
        under the RolloutAborted reason; the phase message names the deadline."""
        timed_out = 'ReplicaSet "ranker-new" has timed out progressing.'
        condition = {**ABORTED_CONDITION,
                     "message": f"Rollout aborted update to revision 2: {timed_out}"}
        obj = rollout(abort=True, phase="Degraded", conditions=[condition],
                      message=f"RolloutAborted: {condition['message']}")
        phase, message = rollout_phase(obj)
        assert (phase, message) == ("Degraded", (
            f"RolloutAborted: Rollout aborted update to revision 2: {timed_out} "
            "(ProgressDeadlineExceeded, aborted by spec.progressDeadlineAbort)"))
        assert RolloutState.from_object(obj).progress_deadline == 600

    def test_phase_is_trusted_once_the_generation_is_observed(self) -> None:
        obj = rollout(phase="Paused", message="CanaryPauseStep",
                      pauseConditions=[{"reason": "CanaryPauseStep"}])
        assert rollout_phase(obj) == ("Paused", "CanaryPauseStep")

    @pytest.mark.parametrize("observed", ["1", 1])
    def test_an_unobserved_generation_hides_the_stale_phase(self, observed: object) -> None:
        obj = rollout(generation=2, observed=observed, phase="Healthy")
        phase, message = rollout_phase(obj)
        assert phase == "Progressing"
        assert message.startswith("unknown: the controller has not observed generation 2 yet")

    @pytest.mark.parametrize("observed", ["3", "7d5f8c9b4", None])
    def test_newer_or_non_numeric_observed_generation_counts_as_observed(
            self, observed: object) -> None:
        assert generation_observed(rollout(generation=2, observed=observed))

    def test_cleared_pause_conditions_mean_unpausing(self) -> None:
        obj = rollout(phase="Paused", controllerPause=True, pauseConditions=[])
        assert rollout_phase(obj) == ("Progressing", "waiting for rollout to unpause")

    def test_a_retry_is_unacknowledged_while_the_aborted_condition_stays(self) -> None:
        """retry patches status.abort only: the generation does not move, and the old
        Degraded phase stays until the controller writes RolloutRetry (rollout/sync.go)."""
        obj = rollout(phase="Degraded", message="RolloutAborted: Rollout aborted update to "
                      "revision 2", abort=False, conditions=[ABORTED_CONDITION])
        assert rollout_phase(obj) == ("Progressing", "unknown: the controller has not "
                                      "acknowledged the retry yet (the RolloutAborted "
                                      "condition is still there)")
        assert not RolloutState.from_object(obj).observed

    def test_an_abort_is_unacknowledged_until_the_aborted_condition(self) -> None:
        obj = rollout(phase="Paused", abort=True, pauseConditions=[{"reason": "CanaryPauseStep"}],
                      conditions=[{"type": "Progressing", "reason": "RolloutPaused"}])
        assert rollout_phase(obj)[1] == "unknown: the controller has not acknowledged the " \
            "abort yet (no RolloutAborted condition)"
        obj["status"]["conditions"] = [ABORTED_CONDITION]
        assert RolloutState.from_object(obj).observed

    def test_a_missing_phase_is_progressing(self) -> None:
        assert rollout_phase(rollout())[0] == "Progressing"


PAUSED_AT_STEP = [{"reason": "CanaryPauseStep", "startTime": "t"}]
ROUTED: dict[str, Any] = {"trafficRouting": {"plugins": {"modelrail/standin": {}}}}


def routed(**status: Any) -> dict[str, Any]:
    obj = rollout(**status)
    obj["spec"]["strategy"]["canary"].update(ROUTED)
    return obj


def weights(canary_hash: str, weight: int) -> dict[str, Any]:
    return {"weights": {"canary": {"weight": weight, "podTemplateHash": canary_hash},
                        "stable": {"weight": 100 - weight, "podTemplateHash": "old"}}}


class TestDesiredWeight:
    @pytest.mark.parametrize(("index", "weight"), [
        (0, 10), (1, 10), (2, 25), (3, 25), (6, 100), (7, 100), (8, 100)])
    def test_last_set_weight_at_or_before_the_index(self, index: int, weight: int) -> None:
        assert desired_weight(rollout(currentStepIndex=index)) == weight

    def test_no_index_means_step_zero(self) -> None:
        assert desired_weight(rollout()) == 10

    def test_no_set_weight_yet_is_zero(self) -> None:
        obj = rollout(step_list=[{"pause": {}}, {"setWeight": 50}], currentStepIndex=0)
        assert desired_weight(obj) == 0

    def test_promote_full_is_one_hundred(self) -> None:
        assert desired_weight(rollout(currentStepIndex=1, promoteFull=True)) == 100


class TestWeight:
    """The weight the controller has confirmed, never the step's setWeight before the
    traffic moved (rollout/canary.go, rollout/trafficrouting.go)."""

    def test_aborted_is_zero(self) -> None:
        assert current_weight(rollout(currentStepIndex=3, abort=True,
                                      pauseConditions=PAUSED_AT_STEP)) == 0

    def test_fully_promoted_is_one_hundred_even_with_canary_route_removed(self) -> None:
        obj = rollout(stableRS="new", currentStepIndex=8,
                      canary={"weights": {"canary": {"weight": 0, "podTemplateHash": "new"}}})
        assert current_weight(obj) == 100

    def test_traffic_router_weight_wins_for_the_current_revision(self) -> None:
        assert current_weight(routed(currentStepIndex=3, canary=weights("new", 12))) == 12

    def test_weights_still_on_the_stable_hash_are_no_traffic_yet(self) -> None:
        """The first reconcile after a new image keeps the old weights: the step's
        setWeight is not reached."""
        assert current_weight(routed(currentStepIndex=0, canary=weights("old", 0))) == 0
        assert current_weight(routed(currentStepIndex=0)) == 0

    def test_weights_of_an_older_canary_are_no_traffic_for_this_one(self) -> None:
        assert current_weight(routed(currentStepIndex=3, canary=weights("older", 50))) == 0

    def test_the_pause_after_the_set_weight_confirms_it(self) -> None:
        obj = routed(currentStepIndex=3, canary=weights("old", 0),
                     pauseConditions=PAUSED_AT_STEP)
        assert current_weight(obj) == 25

    def test_a_pause_before_any_set_weight_confirms_nothing(self) -> None:
        obj = routed(step_list=[{"pause": {}}, {"setWeight": 50}], currentStepIndex=0,
                     pauseConditions=PAUSED_AT_STEP)
        assert current_weight(obj) == 0

    @pytest.mark.parametrize(("replicas", "updated", "available", "weight"), [
        (11, 1, 10, 0),  # the canary pod exists but is not available: no traffic yet
        (10, 1, 10, 10),  # one of ten pods, available: the step's 10 %
        (None, None, None, 0),  # nothing counted yet
    ])
    def test_without_traffic_routing_the_ready_canary_pods_say(
            self, replicas: int | None, updated: int | None, available: int | None,
            weight: int) -> None:
        obj = rollout(currentStepIndex=0, replicas=replicas, updatedReplicas=updated,
                      availableReplicas=available)
        obj["spec"]["replicas"] = 10
        assert current_weight(obj) == weight

    def test_without_traffic_routing_fewer_ready_pods_are_their_share(self) -> None:
        obj = rollout(currentStepIndex=4, replicas=10, updatedReplicas=5,
                      availableReplicas=8)  # 3 of the 5 canary pods available
        obj["spec"]["replicas"] = 10
        assert current_weight(obj) == 30


class TestState:
    def test_paused_at_a_step(self) -> None:
        obj = rollout(currentStepIndex=1, phase="Paused", message="CanaryPauseStep",
                      pauseConditions=[{"reason": "CanaryPauseStep", "startTime": "t"}])
        state = RolloutState.from_object(obj)
        assert (state.paused, state.pause_reasons, state.step_index, state.step_count) == \
            (True, ("CanaryPauseStep",), 1, 8)
        assert state.describe() == \
            "ml/ranker: Paused (CanaryPauseStep) · step 1/8 · weight 10%"
        assert state.to_json()["images"] == {"server": "app:v1"}

    def test_manual_pause_counts_as_paused(self) -> None:
        assert RolloutState.from_object(rollout(paused=True)).paused


class TestSteps:
    def test_matching_steps_pass(self) -> None:
        check_steps(rollout(), (10, 25, 50, 100))

    def test_each_difference_is_named(self) -> None:
        actual: list[dict[str, Any]] = [
            {"setWeight": 10}, {"pause": {"duration": "30s"}}, {"setWeight": 50},
            {"pause": {}}, {"analysis": {"templates": []}}]
        assert step_mismatches(actual, (10, 50)) == [
            'step 1: expected `pause: {}`, found `pause: {"duration": "30s"}`',
            'step 4: `{"analysis": {"templates": []}}` is extra; remove it',
        ]
        assert step_mismatches(steps((10,)), (10, 25)) == [
            "step 2: missing; add `setWeight: 25`", "step 3: missing; add `pause: {}`"]

    def test_the_message_gives_the_steps_to_write_and_why_not_automatically(self) -> None:
        with pytest.raises(UsageError) as caught:
            check_steps(rollout(step_list=steps((20, 100))), (10, 100))
        message = str(caught.value)
        assert "rollout ml/ranker: spec.strategy.canary.steps do not match" in message
        assert "step 0: expected `setWeight: 10`, found `setWeight: 20`" in message
        assert "        - setWeight: 10\n        - pause: {}\n        - setWeight: 100\n" \
               "        - pause: {}" in message
        assert "resets status.currentStepIndex to 0" in message

    def test_a_rollout_without_canary_is_refused(self) -> None:
        obj = rollout()
        obj["spec"]["strategy"] = {"blueGreen": {}}
        with pytest.raises(UsageError, match=r"no spec\.strategy\.canary"):
            check_steps(obj, (10,))


class TestPromotePlan:
    """getPatches of kubectl-argo-rollouts' promote.go, case by case."""

    def test_paused_at_a_step_clears_pause_conditions(self) -> None:
        plan = plan_promote(rollout(currentStepIndex=1,
                                       pauseConditions=[{"reason": "CanaryPauseStep"}]))
        assert plan == PromotePlan(
            status={"status": {"pauseConditions": None}}, spec=None,
            unified={"spec": {"paused": False}, "status": {"pauseConditions": None}})

    def test_manually_paused_also_unpauses(self) -> None:
        plan = plan_promote(rollout(paused=True, currentStepIndex=1,
                                       pauseConditions=[{"reason": "CanaryPauseStep"}]))
        assert plan.status == {"status": {"pauseConditions": None}}
        assert plan.spec == {"spec": {"paused": False}}

    def test_mid_step_skips_to_the_next_step(self) -> None:
        plan = plan_promote(rollout(currentStepIndex=2))
        assert plan.status == {"status": {"pauseConditions": None, "currentStepIndex": 3}}
        assert plan.unified == {"spec": {"paused": False},
                                "status": {"pauseConditions": None, "currentStepIndex": 3}}
        assert plan.spec is None

    def test_the_index_is_capped_at_the_number_of_steps(self) -> None:
        plan = plan_promote(rollout(currentStepIndex=8))
        assert plan.status == {"status": {"pauseConditions": None, "currentStepIndex": 8}}

    def test_inconclusive_analysis_pause_also_resets_controller_pause(self) -> None:
        obj = rollout(currentStepIndex=2, controllerPause=True,
                      pauseConditions=[{"reason": "InconclusiveAnalysisRun"}],
                      canary={"currentStepAnalysisRunStatus": {"status": "Inconclusive"}})
        assert plan_promote(obj).status == {"status": {
            "pauseConditions": None, "controllerPause": False, "currentStepIndex": 3}}

    def test_full(self) -> None:
        plan = plan_promote(rollout(currentStepIndex=1), full=True)
        assert plan == PromotePlan(status={"status": {"promoteFull": True}}, spec=None,
                                      unified={"status": {"promoteFull": True}})

    def test_full_on_a_manually_paused_rollout_unpauses_too(self) -> None:
        plan = plan_promote(rollout(paused=True), full=True)
        assert plan.status == {"status": {"promoteFull": True}}
        assert plan.spec == {"spec": {"paused": False}}

    def test_full_when_already_fully_promoted_does_nothing(self) -> None:
        assert plan_promote(rollout(stableRS="new"), full=True).empty


class TestSetImage:
    def test_only_the_named_container_changes_and_unknown_fields_survive(self) -> None:
        obj = rollout()
        obj["metadata"]["resourceVersion"] = "1234"
        obj["spec"]["template"]["spec"]["containers"].insert(
            0, {"name": "sidecar", "image": "proxy:1", "x-unknown": {"kept": True}})
        assert image_patch(obj, "server", "app:v2") == [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "1234"},
            {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "server"},
            {"op": "add", "path": "/spec/template/spec/containers/1/image", "value": "app:v2"}]

    def test_same_image_is_no_change(self) -> None:
        assert image_patch(rollout(), "server", "app:v1") == []

    def test_star_updates_every_container(self) -> None:
        obj = rollout()
        obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "i"}]
        paths = [op["path"] for op in image_patch(obj, "*", "app:v3") if op["op"] == "add"]
        assert paths == ["/spec/template/spec/initContainers/0/image",
                         "/spec/template/spec/containers/0/image"]

    def test_container_choice(self) -> None:
        assert pick_container({"server": "a"}, None, "it") == "server"
        with pytest.raises(UsageError, match="has 2 containers"):
            pick_container({"a": "1", "b": "2"}, None, "it")
        with pytest.raises(UsageError, match="no container named 'c'"):
            pick_container({"a": "1", "b": "2"}, "c", "it")


MIRROR = MirrorConfig(route="mirror", percentage=35, scale=25)
MATCH = [{"method": {"exact": "POST"}, "path": {"prefix": "/predict"}}]


def mirrored(weights: tuple[int, ...] = (10, 100), match: Any = MATCH,
             routes: tuple[str, ...] | None = ("mirror",)) -> dict[str, Any]:
    """A Rollout with the mirror phase first, Istio traffic routing and managed routes."""
    step_list: list[dict[str, Any]] = [{"setCanaryScale": {"weight": 25}},
                 {"setMirrorRoute": {"name": "mirror", "percentage": 35, "match": match}},
                 {"pause": {}}, {"setMirrorRoute": {"name": "mirror"}},
                 {"setCanaryScale": {"matchTrafficWeight": True}}, *steps(weights)]
    obj = rollout(step_list=step_list)
    routing: dict[str, Any] = {"istio": {"virtualService": {"name": "ranker"}}}
    if routes is not None:
        routing["managedRoutes"] = [{"name": name} for name in routes]
    obj["spec"]["strategy"]["canary"]["trafficRouting"] = routing
    return obj


class TestMirrorSteps:
    def test_the_mirror_phase_then_the_weights_pass_with_any_match(self) -> None:
        check_steps(mirrored(), (10, 100), MIRROR)
        check_steps(mirrored(match=[{"headers": {"x-mirror": {"exact": "1"}}}]),
                       (10, 100), MIRROR)

    def test_without_the_mirror_policy_the_mirror_steps_are_extra(self) -> None:
        assert step_mismatches(mirrored()["spec"]["strategy"]["canary"]["steps"],
                                  (10, 100))[0] == \
            "step 0: expected `setWeight: 10`, found `setCanaryScale: {weight: 25}`"

    @pytest.mark.parametrize(("change", "problem"), [
        ({1: {"setMirrorRoute": {"name": "mirror", "percentage": 50, "match": MATCH}}},
         "step 1: expected `setMirrorRoute: {name: mirror, percentage: 35, match: [{method: "
         "{exact: POST}, path: {prefix: /predict}}]}`, found `setMirrorRoute: {name: mirror, "
         "percentage: 50, match: [{method: {exact: POST}, path: {prefix: /predict}}]}`"),
        ({0: {"setCanaryScale": {"replicas": 1}}},
         "step 0: expected `setCanaryScale: {weight: 25}`, found `setCanaryScale: "
         "{replicas: 1}`"),
        ({2: {"pause": {"duration": "10m"}}},
         'step 2: expected `pause: {}`, found `pause: {"duration": "10m"}`'),
        ({3: {"setMirrorRoute": {"name": "other"}}},
         "step 3: expected `setMirrorRoute: {name: mirror}`, found `setMirrorRoute: "
         "{name: other}`"),
        ({4: {"setWeight": 10}},
         "step 4: expected `setCanaryScale: {matchTrafficWeight: true}`, found `setWeight: "
         "10`"),
    ])
    def test_each_mirror_step_is_checked(self, change: dict[int, Any], problem: str) -> None:
        obj = mirrored()
        for index, step in change.items():
            obj["spec"]["strategy"]["canary"]["steps"][index] = step
        with pytest.raises(UsageError) as caught:
            check_steps(obj, (10, 100), MIRROR)
        assert f"  - {problem}" in str(caught.value)

    def test_an_empty_match_would_remove_the_route_so_it_is_refused(self) -> None:
        with pytest.raises(UsageError) as caught:
            check_steps(mirrored(match=[]), (10, 100), MIRROR)
        assert "step 1: expected `setMirrorRoute: {name: mirror, percentage: 35, match: " \
               "[{path: {prefix: /}}]}`, found `setMirrorRoute: {name: mirror, percentage: " \
               "35, match: []}`" in str(caught.value)

    @pytest.mark.parametrize(("routes", "problem"), [
        (None, "managedRoutes does not name 'mirror'; add `- name: mirror`"),
        (("header",), "managedRoutes does not name 'mirror'; add `- name: mirror`"),
    ])
    def test_the_route_must_be_managed(self, routes: tuple[str, ...] | None,
                                       problem: str) -> None:
        with pytest.raises(UsageError) as caught:
            check_steps(mirrored(routes=routes), (10, 100), MIRROR)
        assert problem in str(caught.value)

    def test_traffic_routing_is_required(self) -> None:
        obj = mirrored()
        del obj["spec"]["strategy"]["canary"]["trafficRouting"]
        with pytest.raises(UsageError, match=r"trafficRouting is not set: setMirrorRoute "
                                             r"needs traffic routing"):
            check_steps(obj, (10, 100), MIRROR)

    @pytest.mark.parametrize("router", [{"nginx": {"stableIngress": "ranker"}},
                                        {"alb": {"ingress": "ranker"}}])
    def test_a_router_that_cannot_mirror_is_refused_with_the_fix(
            self, router: dict[str, Any]) -> None:
        obj = mirrored()
        obj["spec"]["strategy"]["canary"]["trafficRouting"] = {
            **router, "managedRoutes": [{"name": "mirror"}]}
        with pytest.raises(UsageError) as caught:
            check_steps(obj, (10, 100), MIRROR)
        assert f"trafficRouting uses {next(iter(router))}: Argo Rollouts runs " \
               "setMirrorRoute only with `istio`" in str(caught.value)
        assert "remove `rollout.mirror` from the policy" in str(caught.value)

    def test_a_traffic_router_plugin_may_mirror(self) -> None:
        obj = mirrored()
        obj["spec"]["strategy"]["canary"]["trafficRouting"] = {
            "plugins": {"argoproj-labs/gatewayAPI": {}}, "managedRoutes": [{"name": "mirror"}]}
        check_steps(obj, (10, 100), MIRROR)

    def test_the_fix_is_the_exact_yaml_to_write(self) -> None:
        with pytest.raises(UsageError) as caught:
            check_steps(rollout(step_list=steps((10, 100))), (10, 100), MIRROR)
        message = str(caught.value)
        assert "with the mirror phase of rollout.mirror (route 'mirror')" in message
        assert (
            "    strategy:\n      canary:\n        trafficRouting:\n          managedRoutes:\n"
            "            - name: mirror\n          istio: {...}   # your mesh's settings, as "
            "they are\n        steps:\n"
            "        - setCanaryScale: {weight: 25}\n"
            "        - setMirrorRoute: {name: mirror, percentage: 35, match: [{path: "
            "{prefix: /}}]}\n"
            "        - pause: {}\n"
            "        - setMirrorRoute: {name: mirror}\n"
            "        - setCanaryScale: {matchTrafficWeight: true}\n"
            "        - setWeight: 10\n        - pause: {}\n"
            "        - setWeight: 100\n        - pause: {}\n") in message
        assert "step 0: expected `setCanaryScale: {weight: 25}`, found `setWeight: 10`" \
            in message

    def test_the_fix_keeps_the_manifests_own_match(self) -> None:
        with pytest.raises(UsageError) as caught:
            check_steps(mirrored(weights=(20, 100)), (10, 100), MIRROR)
        assert "match: [{method: {exact: POST}, path: {prefix: /predict}}]" \
            in str(caught.value)


class TestActiveMirror:
    @pytest.mark.parametrize(("index", "mirror", "weight"), [
        (0, 0, 0), (1, 35, 0), (2, 35, 0), (3, 0, 0), (4, 0, 0), (5, 0, 10), (6, 0, 10)])
    def test_the_mirror_follows_the_steps_and_never_moves_the_weight(
            self, index: int, mirror: int, weight: int) -> None:
        obj = {**mirrored(), "status": {
            "stableRS": "old", "currentPodHash": "new", "currentStepIndex": index}}
        assert (RolloutState.from_object(obj).mirror, desired_weight(obj)) == (mirror, weight)

    @pytest.mark.parametrize("status", [{"abort": True}, {"promoteFull": True},
                                        {"stableRS": "new"}])
    def test_an_abort_or_the_end_removes_it(self, status: dict[str, Any]) -> None:
        obj = {**mirrored(), "status": {"stableRS": "old", "currentPodHash": "new",
                                        "currentStepIndex": 2, **status}}
        assert active_mirror(obj) == 0

    def test_it_is_shown_in_the_one_line_description(self) -> None:
        obj = {**mirrored(), "status": {"stableRS": "old", "currentPodHash": "new",
                                        "currentStepIndex": 2, "phase": "Paused",
                                        "observedGeneration": "2"}}
        assert RolloutState.from_object(obj).describe() == \
            "ml/ranker: Paused · step 2/9 · weight 0% · mirror 35%"
