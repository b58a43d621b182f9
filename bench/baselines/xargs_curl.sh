#!/usr/bin/env bash
# Resume the mixed stream of every room listed on stdin: one curl per room, 20 at a time.
#
#   export ENDPOINT=https://adminapisgp.im.qcloud.com SDKAPPID=1400000001 IDENTIFIER=administrator
#   export USERSIG=$(resumer usersig --sdkappid "$SDKAPPID" --identifier "$IDENTIFIER")
#   ./xargs_curl.sh < rooms.txt > replies.tsv
#
# Prints "RoomId<TAB>reply" per room. curl retries timeouts and 5xx itself (--retry 3).
set -euo pipefail
: "${ENDPOINT:?}" "${SDKAPPID:?}" "${IDENTIFIER:?}" "${USERSIG:?}"
export ENDPOINT SDKAPPID IDENTIFIER USERSIG

xargs -P "${PARALLEL:-20}" -I {} bash -c '
  url="$ENDPOINT/v4/live_engine_http_srv/resume_mcu_task?sdkappid=$SDKAPPID&identifier=$IDENTIFIER&usersig=$USERSIG&random=$RANDOM$RANDOM&contenttype=json"
  reply=$(curl -sS --max-time 10 --retry 3 -X POST -H "Content-Type: application/json" \
    -d "{\"RoomId\":\"$1\"}" "$url" 2>&1) || true
  printf "%s\t%s\n" "$1" "$reply"
' _ {}
