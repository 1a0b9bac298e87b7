#!/usr/bin/env bash
# Smoke-test a built serving image before it is pushed: start it, wait for GET /readyz,
# send one POST /predict, check the answer has predictions, remove the container.
#
# Env: IMAGE (reference of the loaded image), REQUEST (JSON file for /predict), PORT
# (container port, default 8080), READY_TIMEOUT (seconds, default 120).
# MODELRAIL_CONTAINER_ENGINE: `docker` (default; GitHub runners) or `buildah` (machines
# without a Docker engine: the image in local buildah storage, run with chroot isolation on
# the host network). MODELRAIL_BUILDAH_OPTS: global buildah flags (e.g. --root/--runroot).
set -euo pipefail

: "${IMAGE:?IMAGE is required}" "${REQUEST:?REQUEST is required}"
port="${PORT:-8080}"
ready_timeout="${READY_TIMEOUT:-120}"
engine="${MODELRAIL_CONTAINER_ENGINE:-docker}"
workdir="$(mktemp -d "${RUNNER_TEMP:-/tmp}/modelrail-smoke.XXXXXX")"

if [ ! -f "$REQUEST" ]; then
  echo "::error title=image smoke test::request file $REQUEST not found"
  exit 2
fi

case "$engine" in
  docker)
    container="$(docker run -d -p "127.0.0.1::$port" "$IMAGE")"
    cleanup() { docker logs "$container" > "$workdir/container.log" 2>&1 || true; docker rm -f "$container" > /dev/null || true; }
    trap cleanup EXIT
    url="http://$(docker port "$container" "$port/tcp" | head -n 1)"
    ;;
  buildah)
    read -r -a storage <<< "${MODELRAIL_BUILDAH_OPTS:-}"
    host_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    container="$(buildah "${storage[@]}" from --pull-never "$IMAGE")"
    mapfile -t command < <(buildah "${storage[@]}" inspect --type image \
      --format '{{range .Docker.Config.Entrypoint}}{{println .}}{{end}}{{range .Docker.Config.Cmd}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
    # Its own session, so the whole process group (buildah and the server) can be stopped.
    setsid buildah "${storage[@]}" run --isolation chroot --network host \
      --env UVICORN_HOST=127.0.0.1 --env "UVICORN_PORT=$host_port" \
      "$container" -- "${command[@]}" > "$workdir/container.log" 2>&1 &
    server=$!
    cleanup() {
      kill -- "-$server" 2> /dev/null || true
      wait "$server" 2> /dev/null || true
      buildah "${storage[@]}" rm "$container" > /dev/null || true
    }
    trap cleanup EXIT
    url="http://127.0.0.1:$host_port"
    ;;
  *)
    echo "::error title=image smoke test::MODELRAIL_CONTAINER_ENGINE must be docker or buildah, not $engine"
    exit 2
    ;;
esac

deadline=$(( $(date +%s) + ready_timeout ))
until curl -fsS -o /dev/null "$url/readyz"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "::error title=image smoke test::$IMAGE not ready at $url/readyz after ${ready_timeout}s"
    tail -n 50 "$workdir/container.log" || true
    exit 1
  fi
  sleep 1
done

if ! curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "@$REQUEST" \
    -o "$workdir/predict.json" "$url/predict"; then
  echo "::error title=image smoke test::POST /predict failed"
  tail -n 50 "$workdir/container.log" || true
  exit 1
fi
python3 - "$workdir/predict.json" <<'PY'
import json
import sys

body = json.load(open(sys.argv[1], encoding="utf-8"))
predictions = body.get("predictions")
if not isinstance(predictions, list) or not predictions:
    sys.exit(f"::error title=image smoke test::/predict answered without predictions: {body}")
print(f"smoke test passed: /readyz ready, /predict answered {predictions}")
PY
