#!/usr/bin/env python3
"""Drives `codex app-server` through one turn and records what it prints (one JSON-RPC message
per line) — how plugins/codex/tests/transcripts/<version>/app-server/*.jsonl were captured.

    capture-app-server.py --codex BIN --repo DIR --out FILE [--resume THREAD] [--prompt TEXT]
                          [DECISION ...]

HOME, CODEX_HOME, TMPDIR and OPENAI_API_KEY come from the environment: a codex home whose
config.toml names the fake model server of this folder (see capture.sh). Each approval request
is answered with the next DECISION (accept, decline, cancel, acceptForSession); the last one
repeats. Standard input is closed when the turn completes, which ends the app server.
"""
import argparse, json, os, queue, subprocess, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--codex", required=True)
parser.add_argument("--repo", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--resume")
parser.add_argument("--prompt", default="make the files")
parser.add_argument("decisions", nargs="*", default=["accept"])
args = parser.parse_args()

proc = subprocess.Popen([args.codex, "app-server"], cwd=args.repo, stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)],
                 daemon=True).start()
out = open(args.out, "wb")
thread_params = {"cwd": args.repo, "approvalPolicy": "untrusted", "sandbox": "read-only"}


def send(message):
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


send({"id": 1, "method": "initialize", "params": {
    "clientInfo": {"name": "codecafe", "title": "codecafe", "version": "0.1.0"}, "capabilities": {}}})
asked = 0
deadline = time.time() + 120
while time.time() < deadline:
    try:
        line = lines.get(timeout=1)
    except queue.Empty:
        continue
    if line is None:
        break
    out.write(line)
    message = json.loads(line)
    if message.get("id") == 1 and "result" in message:
        send({"method": "initialized"})
        if args.resume:
            send({"id": 2, "method": "thread/resume", "params": {"threadId": args.resume, **thread_params}})
        else:
            send({"id": 2, "method": "thread/start", "params": thread_params})
    elif message.get("id") == 2 and "result" in message:
        send({"id": 3, "method": "turn/start", "params": {
            "threadId": message["result"]["thread"]["id"],
            "input": [{"type": "text", "text": args.prompt, "text_elements": []}]}})
    elif "method" in message and "id" in message:
        decision = args.decisions[min(asked, len(args.decisions) - 1)]
        asked += 1
        send({"id": message["id"], "result": {"decision": decision}})
    elif message.get("method") == "turn/completed":
        proc.stdin.close()
proc.wait(timeout=30)
sys.exit(proc.returncode)
