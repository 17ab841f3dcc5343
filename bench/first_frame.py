"""Time to first frame: from the WebSocket request to the first decodable frame, 50 times.

The GOP cache makes it independent of the camera's GOP: a new viewer gets the latest keyframe at
once. Usage: python -m bench.first_frame [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import ViewerStats, camgate_server, machine, percentile, ws_viewer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camgate-bench-") as scratch:
        data = Path(scratch) / "data"
        with camgate_server(data) as server:
            time.sleep(2)
            port = int(server.base_url.rsplit(":", 1)[1])
            path = f"/api/v1/cameras/{server.camera_id}/live?token={server.token}"
            times = []
            for _ in range(args.requests):
                stats = ViewerStats()
                asyncio.run(ws_viewer("127.0.0.1", port, path, 10.0, stats, frames_wanted=1))
                if stats.first_frame_s is not None:
                    times.append(stats.first_frame_s * 1000)
                time.sleep(0.037)  # spread the requests over different points of the GOP
        shutil.rmtree(data, ignore_errors=True)
    print(f"# first_frame — {machine()}, {len(times)}/{args.requests} requests, 1080p30 GOP 1 s")
    print(
        f"median {percentile(times, 0.5):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, "
        f"max {max(times):.1f} ms"
    )


if __name__ == "__main__":
    main()
