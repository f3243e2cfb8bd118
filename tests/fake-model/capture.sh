#!/usr/bin/env bash
# Re-captures the real claude / codex transcripts used as adapter test fixtures, by running the
# pinned CLIs offline against the scripted fake model server (tests/fake-model).
#
#   npm install --prefix tests/agents            # once: installs the pinned CLIs
#   tests/fake-model/capture.sh [claude|codex|all] [SCENARIO...]   # default: all of both
#
# Scenarios: claude: session (text-only + resume), tool-write-bash, thinking, permission-denied,
# api-error, partial-messages, deferred (deferred + deferred-resume); codex: session,
# exec-and-patch, turn-failed, declined (codex >= 0.171 only).
#
# Writes plugins/claude-code/tests/transcripts/<claude version>/*.jsonl and
# plugins/codex/tests/transcripts/<codex version>/*.jsonl (stdout of each run, verbatim; the
# version is what `--version` of the CLI prints) and checks that the side effects really
# happened. Scratch repos, homes, server logs and recorded requests live in a temp dir (kept
# with KEEP_WORK=1).
#
# Another version, without touching the pins (users run many versions, and the adapters keep a
# folder per version):
#
#   npm install --prefix /tmp/old --no-save @anthropic-ai/claude-code@2.1.197 @openai/codex@0.169.0
#   AGENTS=/tmp/old/node_modules/.bin tests/fake-model/capture.sh
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
AGENTS=${AGENTS:-$ROOT/tests/agents/node_modules/.bin}
SCRIPTS=$ROOT/tests/fake-model/scripts
WHICH=${1:-all}
# Codex model: the default (gpt-6.1-sol) gets a JavaScript "code mode" tool set; gpt-5.5 gets
# exec_command + the apply_patch custom tool.
CODEX_MODEL=gpt-5.5
# The CLI must not run more than this many seconds.
RUN_TIMEOUT=180

for bin in claude codex; do
  [ -x "$AGENTS/$bin" ] || { echo "missing $AGENTS/$bin: run npm install --prefix tests/agents" >&2; exit 1; }
done

# The transcript folders are named by the version the CLI reports: `2.1.332 (Claude Code)`,
# `codex-cli 0.171.0`.
CLAUDE_VERSION=$("$AGENTS/claude" --version | sed -n 's/^\([0-9][0-9.]*\).*/\1/p' | head -n 1)
CODEX_VERSION=$("$AGENTS/codex" --version | sed -n 's/^codex-cli \([0-9][0-9.]*\).*/\1/p' | head -n 1)
[ -n "$CLAUDE_VERSION" ] && [ -n "$CODEX_VERSION" ] || { echo "cannot read the CLI versions" >&2; exit 1; }
# CLAUDE_TRANSCRIPTS / CODEX_TRANSCRIPTS put them elsewhere (a trial run that must not touch
# the fixtures).
CLAUDE_OUT=${CLAUDE_TRANSCRIPTS:-$ROOT/plugins/claude-code/tests/transcripts}/$CLAUDE_VERSION
CODEX_OUT=${CODEX_TRANSCRIPTS:-$ROOT/plugins/codex/tests/transcripts}/$CODEX_VERSION

(cd "$ROOT" && cargo build -q -p codecafe-fake-model)
SERVER=${CARGO_TARGET_DIR:-$ROOT/target}/debug/fake-model-server

WORK=$(mktemp -d /tmp/codecafe-capture.XXXXXX)
SERVER_PID=
PORT=

cleanup() {
  stop_server
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# start_server NAME SCRIPT REPO: runs the server on a free port with stdin on a FIFO, so it
# exits as soon as we close our end; sets PORT.
start_server() {
  local name=$1 script=$2 repo=$3
  mkfifo "$WORK/$name.ctl"
  "$SERVER" --script "$script" --var "REPO=$repo" --record "$WORK/$name.requests.jsonl" \
    --idle-timeout 300 <"$WORK/$name.ctl" >"$WORK/$name.server.out" 2>"$WORK/$name.server.log" &
  SERVER_PID=$!
  exec 3>"$WORK/$name.ctl"
  PORT=
  for _ in $(seq 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/$name.server.out")
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "fake-model-server did not start" >&2; exit 1; }
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    exec 3>&-
    wait "$SERVER_PID" || true
    SERVER_PID=
  fi
}

# new_repo DIR: a scratch git repository with one commit on main.
new_repo() {
  mkdir -p "$1"
  git -C "$1" init -q -b main
  printf '# scratch\n' >"$1/README.md"
  git -C "$1" add README.md
  git -C "$1" -c user.name=capture -c user.email=capture@example.invalid commit -q -m init
}

fail() { echo "CHECK FAILED: $* (rerun with KEEP_WORK=1 to inspect $WORK)" >&2; exit 1; }

# run_claude OUT HOME REPO [ENV=VAL...] -- ARGS...: runs claude in REPO with a clean env.
run_claude() {
  local out=$1 home=$2 repo=$3; shift 3
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  mkdir -p "$home/.claude"
  local rc=0
  (cd "$repo" && env -i PATH="$PATH" HOME="$home" CLAUDE_CONFIG_DIR="$home/.claude" \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=sk-ant-fake-key-for-offline-tests \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 \
    DISABLE_AUTOUPDATER=1 "${extra[@]}" \
    timeout "$RUN_TIMEOUT" "$AGENTS/claude" "$@" </dev/null >"$out" 2>"$WORK/claude-$(basename "$out").stderr") || rc=$?
  echo "$(basename "$out"): exit $rc"
  LAST_RC=$rc
}

# run_codex OUT HOME REPO -- ARGS...: runs codex (global args first) with a clean env.
# TMPDIR: codex >= 0.171 runs sandboxed commands through a `codex-linux-sandbox` helper link it
# creates in CODEX_HOME, and refuses to create it when CODEX_HOME is under the temp dir (then
# every workspace-write command fails with "bwrap: execvp codex-linux-sandbox: No such file or
# directory"). A private TMPDIR that does not contain CODEX_HOME keeps it like a real ~/.codex.
run_codex() {
  local out=$1 home=$2 repo=$3; shift 4
  mkdir -p "$home/codex" "$home/tmp"
  local rc=0
  (cd "$repo" && env -i PATH="$PATH" HOME="$home" CODEX_HOME="$home/codex" TMPDIR="$home/tmp" FAKE_KEY=fake-key \
    timeout "$RUN_TIMEOUT" "$AGENTS/codex" "$@" </dev/null >"$out" 2>"$WORK/codex-$(basename "$out").stderr") || rc=$?
  echo "$(basename "$out"): exit $rc"
  LAST_RC=$rc
}

codex_provider() {
  printf '%s' "model_providers.fake={name=\"fake\",base_url=\"http://127.0.0.1:$PORT/v1\",env_key=\"FAKE_KEY\",wire_api=\"responses\",request_max_retries=1,stream_max_retries=1}"
}

# first_string_field FILE KEY: the first string value of "KEY" in a JSONL transcript.
first_string_field() {
  grep -o "\"$2\":\"[^\"]*\"" "$1" | head -n 1 | sed "s/^\"$2\":\"\\(.*\\)\"$/\\1/"
}

CLAUDE_HEADLESS=(-p --output-format stream-json --verbose)

# want NAME: whether scenario NAME was asked for (all when none was named).
want() {
  [ ${#SCENARIOS[@]} -eq 0 ] && return 0
  local s
  for s in "${SCENARIOS[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

# hook PROGRAM DECISION: writes a PreToolUse hook program that answers DECISION.
hook() {
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\ncat >/dev/null\necho '"'"'{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"%s"}}'"'"'\n' "$2" >"$1"
  chmod +x "$1"
}

# hook_settings PROGRAM: --settings JSON running PROGRAM before every Write.
hook_settings() {
  printf '{"hooks":{"PreToolUse":[{"matcher":"Write","hooks":[{"type":"command","command":"%s"}]}]}}' "$1"
}

capture_claude() {
  mkdir -p "$CLAUDE_OUT"
  local w=$WORK/claude home repo

  # session: text-only, then resume the same session with the user's answer.
  if want session; then
    home=$w/session/home repo=$w/session/repo
    new_repo "$repo"
    start_server claude-text-only "$SCRIPTS/claude-text-only.json" "$repo"
    run_claude "$CLAUDE_OUT/text-only.jsonl" "$home" "$repo" -- "${CLAUDE_HEADLESS[@]}" \
      "Add rate limiting to the API. Ask me before deciding on storage or limits."
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude text-only exit $LAST_RC"
    local sid
    sid=$(first_string_field "$CLAUDE_OUT/text-only.jsonl" session_id)
    [ -n "$sid" ] || fail "no session_id in text-only.jsonl"
    start_server claude-resume "$SCRIPTS/claude-resume.json" "$repo"
    run_claude "$CLAUDE_OUT/resume.jsonl" "$home" "$repo" -- "${CLAUDE_HEADLESS[@]}" --resume "$sid" \
      "Use Redis, and 100 requests per minute per API key is fine."
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude resume exit $LAST_RC"
    grep -q '"served":"turn"' "$WORK/claude-resume.requests.jsonl" || fail "resume answer not matched"
    grep -q 'Which limit should apply per API key' "$WORK/claude-resume.requests.jsonl" \
      || fail "resumed request lacks the earlier question"
  fi

  # tool-write-bash: Write creates greet.sh, Bash runs it.
  if want tool-write-bash; then
    repo=$w/write/repo; new_repo "$repo"
    start_server claude-tool-write-bash "$SCRIPTS/claude-tool-write-bash.json" "$repo"
    run_claude "$CLAUDE_OUT/tool-write-bash.jsonl" "$w/write/home" "$repo" IS_SANDBOX=1 -- \
      "${CLAUDE_HEADLESS[@]}" --permission-mode bypassPermissions "Create greet.sh that prints a greeting, then run it."
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude tool-write-bash exit $LAST_RC"
    grep -q 'Hello from greet.sh' "$repo/greet.sh" || fail "Write did not create greet.sh"
    grep -q '"stdout":"Hello from greet.sh"' "$CLAUDE_OUT/tool-write-bash.jsonl" || fail "Bash did not run"
  fi

  # thinking
  if want thinking; then
    repo=$w/thinking/repo; new_repo "$repo"
    start_server claude-thinking "$SCRIPTS/claude-thinking.json" "$repo"
    run_claude "$CLAUDE_OUT/thinking.jsonl" "$w/thinking/home" "$repo" -- "${CLAUDE_HEADLESS[@]}" \
      "Which Rust slice sort is stable?"
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude thinking exit $LAST_RC"
  fi

  # permission-denied: default permission mode refuses the Write.
  if want permission-denied; then
    repo=$w/denied/repo; new_repo "$repo"
    start_server claude-permission-denied "$SCRIPTS/claude-permission-denied.json" "$repo"
    run_claude "$CLAUDE_OUT/permission-denied.jsonl" "$w/denied/home" "$repo" -- "${CLAUDE_HEADLESS[@]}" \
      "Write a release notes draft to notes.txt"
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude permission-denied exit $LAST_RC"
    [ ! -e "$repo/notes.txt" ] || fail "denied Write created notes.txt"
    grep -q '"permission_denials":\[{' "$CLAUDE_OUT/permission-denied.jsonl" || fail "no permission_denials"
  fi

  # api-error: every request gets 529; one retry.
  if want api-error; then
    repo=$w/error/repo; new_repo "$repo"
    start_server claude-api-error "$SCRIPTS/claude-api-error.json" "$repo"
    run_claude "$CLAUDE_OUT/api-error.jsonl" "$w/error/home" "$repo" CLAUDE_CODE_MAX_RETRIES=1 -- \
      "${CLAUDE_HEADLESS[@]}" "Say hello"
    stop_server
    [ "$LAST_RC" = 1 ] || fail "claude api-error exit $LAST_RC (expected 1)"
  fi

  # partial-messages: raw stream events, with a Bash tool call.
  if want partial-messages; then
    repo=$w/partial/repo; new_repo "$repo"
    start_server claude-partial-messages "$SCRIPTS/claude-partial-messages.json" "$repo"
    run_claude "$CLAUDE_OUT/partial-messages.jsonl" "$w/partial/home" "$repo" IS_SANDBOX=1 -- \
      "${CLAUDE_HEADLESS[@]}" --include-partial-messages --permission-mode bypassPermissions \
      "Which git branch am I on?"
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude partial-messages exit $LAST_RC"
    grep -q '"type":"stream_event"' "$CLAUDE_OUT/partial-messages.jsonl" || fail "no stream_event lines"
  fi

  # deferred: a PreToolUse hook defers the Write (the run ends, nothing written); a second
  # process resumes the session with no prompt and a hook that allows it (hook events on).
  # The scripts write ${CWD}: the fake server finds the directory in the requests.
  if want deferred; then
    home=$w/deferred/home repo=$w/deferred/repo; new_repo "$repo"
    local deferred_sid=6f1c2a9e-4b7d-4e21-9c3a-5d8e0f7b1a24
    hook "$w/deferred/hooks/defer.sh" defer
    hook "$w/deferred/hooks/allow.sh" allow
    start_server claude-deferred "$SCRIPTS/claude-deferred.json" "$repo"
    run_claude "$CLAUDE_OUT/deferred.jsonl" "$home" "$repo" -- "${CLAUDE_HEADLESS[@]}" \
      --session-id "$deferred_sid" --settings "$(hook_settings "$w/deferred/hooks/defer.sh")" \
      "Write a release notes draft to notes.txt"
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude deferred exit $LAST_RC"
    [ ! -e "$repo/notes.txt" ] || fail "a deferred Write created notes.txt"
    grep -q '"stop_reason":"tool_deferred"' "$CLAUDE_OUT/deferred.jsonl" || fail "the Write was not deferred"
    grep -q "\"cwd\":\"$repo\"" "$WORK/claude-deferred.requests.jsonl" \
      || fail "the fake server did not find the working directory"
    start_server claude-deferred-resume "$SCRIPTS/claude-deferred-resume.json" "$repo"
    run_claude "$CLAUDE_OUT/deferred-resume.jsonl" "$home" "$repo" -- "${CLAUDE_HEADLESS[@]}" \
      --include-hook-events --resume "$deferred_sid" \
      --settings "$(hook_settings "$w/deferred/hooks/allow.sh")"
    stop_server
    [ "$LAST_RC" = 0 ] || fail "claude deferred-resume exit $LAST_RC"
    grep -q 'Release notes draft' "$repo/notes.txt" || fail "the allowed Write did not create notes.txt"
    grep -q '"served":"turn"' "$WORK/claude-deferred-resume.requests.jsonl" \
      || fail "the resumed request did not carry the Write's result"
  fi
}

capture_codex() {
  mkdir -p "$CODEX_OUT"
  local w=$WORK/codex home repo
  local common=(--disable unbounded_connection_retries -c model_provider=fake
    -c features.plugins=false -c features.apps=false -c analytics.enabled=false)

  # session: text-only, then resume the same thread with the user's answer.
  if want session; then
    home=$w/session/home repo=$w/session/repo
    new_repo "$repo"
    start_server codex-text-only "$SCRIPTS/codex-text-only.json" "$repo"
    run_codex "$CODEX_OUT/text-only.jsonl" "$home" "$repo" -- -a never exec --json "${common[@]}" \
      -c "$(codex_provider)" -m "$CODEX_MODEL" -s workspace-write \
      "Add rate limiting to the API. Ask me before deciding on storage or limits."
    stop_server
    [ "$LAST_RC" = 0 ] || fail "codex text-only exit $LAST_RC"
    local tid
    tid=$(first_string_field "$CODEX_OUT/text-only.jsonl" thread_id)
    [ -n "$tid" ] || fail "no thread_id in text-only.jsonl"
    start_server codex-resume "$SCRIPTS/codex-resume.json" "$repo"
    run_codex "$CODEX_OUT/resume.jsonl" "$home" "$repo" -- -a never exec resume "$tid" \
      "Use Redis, and 100 requests per minute per API key is fine." --json "${common[@]}" \
      -c "$(codex_provider)" -m "$CODEX_MODEL" -c sandbox_mode=workspace-write
    stop_server
    [ "$LAST_RC" = 0 ] || fail "codex resume exit $LAST_RC"
    grep -q '"served":"turn"' "$WORK/codex-resume.requests.jsonl" || fail "resume answer not matched"
    grep -q 'Which limit should apply per API key' "$WORK/codex-resume.requests.jsonl" \
      || fail "resumed request lacks the earlier question"
  fi

  # exec-and-patch: exec_command runs a shell command, apply_patch adds NOTES.md.
  if want exec-and-patch; then
    repo=$w/patch/repo; new_repo "$repo"
    start_server codex-exec-and-patch "$SCRIPTS/codex-exec-and-patch.json" "$repo"
    run_codex "$CODEX_OUT/exec-and-patch.jsonl" "$w/patch/home" "$repo" -- -a never exec --json \
      "${common[@]}" -c "$(codex_provider)" -m "$CODEX_MODEL" -s workspace-write \
      "Record the rate-limiting decision in NOTES.md."
    stop_server
    [ "$LAST_RC" = 0 ] || fail "codex exec-and-patch exit $LAST_RC"
    grep -q 'exec-ran' "$repo/exec-ran.txt" || fail "exec_command did not run"
    grep -q 'Redis fixed window' "$repo/NOTES.md" || fail "apply_patch did not add NOTES.md"
  fi

  # turn-failed: every request gets 500; one retry.
  if want turn-failed; then
    repo=$w/failed/repo; new_repo "$repo"
    start_server codex-turn-failed "$SCRIPTS/codex-turn-failed.json" "$repo"
    run_codex "$CODEX_OUT/turn-failed.jsonl" "$w/failed/home" "$repo" -- -a never exec --json \
      "${common[@]}" -c "$(codex_provider)" -m "$CODEX_MODEL" -s workspace-write "Say hello"
    stop_server
    [ "$LAST_RC" = 1 ] || fail "codex turn-failed exit $LAST_RC (expected 1)"
    grep -q '"type":"turn.failed"' "$CODEX_OUT/turn-failed.jsonl" || fail "no turn.failed"
  fi

  # declined (codex >= 0.171, which has --approve-for-me): a command asking for escalation goes
  # to the automatic reviewer (a side request of the same API, answered "deny" by the script),
  # so its item ends `declined`; then an ordinary command fails (exit 3, status `failed`).
  if want declined && "$AGENTS/codex" --help 2>/dev/null | grep -q -- '--approve-for-me'; then
    repo=$w/declined/repo; new_repo "$repo"
    start_server codex-declined "$SCRIPTS/codex-declined.json" "$repo"
    run_codex "$CODEX_OUT/declined.jsonl" "$w/declined/home" "$repo" -- --approve-for-me exec --json \
      "${common[@]}" -c "$(codex_provider)" -m "$CODEX_MODEL" "Record the rate-limiting decision."
    stop_server
    [ "$LAST_RC" = 0 ] || fail "codex declined exit $LAST_RC"
    [ ! -e "$w/declined/rate-limit-decision.txt" ] || fail "the declined command ran"
    grep -q '"status":"declined"' "$CODEX_OUT/declined.jsonl" || fail "no declined item"
    grep -q '"served":"side"' "$WORK/codex-declined.requests.jsonl" || fail "no review request"
    grep -q '"exit_code":3,"status":"failed"' "$CODEX_OUT/declined.jsonl" || fail "no failed command"
    grep -q "\"cwd\":\"$repo\"" "$WORK/codex-declined.requests.jsonl" \
      || fail "the fake server did not find the working directory"
  fi
}

SCENARIOS=("${@:2}")
case $WHICH in
  claude) capture_claude ;;
  codex) capture_codex ;;
  all) capture_claude; capture_codex ;;
  *) echo "usage: $0 [claude|codex|all] [SCENARIO...]" >&2; exit 2 ;;
esac
echo "captured into $CLAUDE_OUT and $CODEX_OUT"
