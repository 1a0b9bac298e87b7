#!/usr/bin/env bash
# The build-push-action stand-in: buildah build, then buildah push of every tag.
set -euo pipefail

read -r -a global <<< "${MODELRAIL_BUILDAH_OPTS:-}"
read -r -a volumes <<< "${MODELRAIL_LOCAL_BUILD_VOLUMES:-}"
file="${FILE:-$CONTEXT/Dockerfile}"
mapfile -t tags < <(tr ',' '\n' <<< "$TAGS" | sed 's/^[[:space:]]*//;s/[[:space:]]*$//;/^$/d')
if [ "${#tags[@]}" -eq 0 ]; then
  echo "::error::build-push stand-in: no tags"
  exit 1
fi

args=(build --layers --format docker --isolation chroot --pull=never -f "$file")
for tag in "${tags[@]}"; do args+=(-t "$tag"); done
while IFS= read -r label; do
  if [ -n "$label" ]; then args+=(--label "$label"); fi
done <<< "$LABELS"
while IFS= read -r build_arg; do
  if [ -n "$build_arg" ]; then args+=(--build-arg "$build_arg"); fi
done <<< "$BUILD_ARGS"
iidfile="$(mktemp "${RUNNER_TEMP:-/tmp}/iid.XXXXXX")"
buildah "${global[@]}" "${args[@]}" "${volumes[@]}" --iidfile "$iidfile" "$CONTEXT"
imageid="$(cat "$iidfile")"
echo "imageid=$imageid" >> "$GITHUB_OUTPUT"

digest=""
if [ "$PUSH" = "true" ]; then
  digestfile="$(mktemp "${RUNNER_TEMP:-/tmp}/digest.XXXXXX")"
  for tag in "${tags[@]}"; do
    buildah "${global[@]}" push --tls-verify=false --digestfile "$digestfile" "$tag" "docker://$tag"
    pushed="$(cat "$digestfile")"
    if [ -n "$digest" ] && [ "$pushed" != "$digest" ]; then
      echo "::error::build-push stand-in: $tag pushed as $pushed, first tag as $digest"
      exit 1
    fi
    digest="$pushed"
  done
fi
echo "digest=$digest" >> "$GITHUB_OUTPUT"
printf 'metadata={"containerimage.digest":"%s","image.name":"%s"}\n' \
  "$digest" "$(IFS=,; echo "${tags[*]}")" >> "$GITHUB_OUTPUT"
echo "built $imageid${digest:+, pushed $digest}"
