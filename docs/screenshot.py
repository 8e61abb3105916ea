"""A screenshot of a live TensorBoard, taken with headless Chromium (Debian's ``chromium``).

    .venv/bin/python docs/screenshot.py LOGDIR OUT.png [--tab custom_scalars] [--size 1400,900]

README's docs/tensorboard_seeds.png, after ``scripts/label_vs_reward.py --seeds 5``
(the fragment filters the runs to the aggregates and turns smoothing off):

    .venv/bin/python docs/screenshot.py runs/label_vs_reward docs/tensorboard_seeds.png \
        --size 1400,780 --tab 'custom_scalars&regexInput=mean&_smoothingWeight=0'

Starts ``tensorboard --logdir LOGDIR`` on a free loopback port, waits until it serves the
runs, lets Chromium render the tab for a few seconds of virtual time, and stops the server.
Chromium is not a Python package: ``apt-get install chromium`` (it is not needed by the tests).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def serve(logdir: str) -> tuple[subprocess.Popen, str]:
    """``tensorboard --logdir`` on a free loopback port, once it lists the runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--port", str(port)]
    server = subprocess.Popen([*command, "--host", "127.0.0.1"], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            with urllib.request.urlopen(f"{url}/data/runs", timeout=5) as r:
                if r.read() != b"[]":
                    return server, url
        except OSError:
            pass
        time.sleep(0.5)
    server.terminate()
    sys.exit(f"tensorboard did not serve {logdir} in 90 s")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("out")
    parser.add_argument("--tab", default="custom_scalars", help="TensorBoard's tab (URL fragment)")
    parser.add_argument("--size", default="1400,900", help="window width,height in pixels")
    parser.add_argument("--wait-ms", type=int, default=20_000, help="virtual time to render")
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("no chromium on PATH: apt-get install chromium")
    out = Path(args.out).resolve()
    server, base = serve(args.logdir)
    url = f"{base}/#{args.tab}"
    try:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",  # root in a container has no user namespace to sandbox with
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={args.size}",
                f"--virtual-time-budget={args.wait_ms}",
                f"--screenshot={out}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{url} -> {out}")
    return out


if __name__ == "__main__":
    main()
