"""The status as Prometheus metrics, read at scrape time (nothing to keep in step)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from camgate.status.models import ServerStatus


class StatusCollector(Collector):
    def __init__(self, status: Callable[[], ServerStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        yield GaugeMetricFamily(
            "camgate_active_since_seconds",
            "When the server was started (Unix time).",
            status.active_since,
        )
        yield GaugeMetricFamily(
            "camgate_cpu_percent", "CPU usage of the machine.", status.cpu_percent
        )
        yield GaugeMetricFamily(
            "camgate_bandwidth_out_kbps",
            "Video sent to clients, kbit/s.",
            status.bandwidth_out_kbps,
        )
        yield GaugeMetricFamily(
            "camgate_limitation_level", "Transcoding level in force.", status.level
        )
        yield GaugeMetricFamily(
            "camgate_transcoders",
            "Transcoders running (one per distinct output).",
            status.transcoders,
        )
        yield CounterMetricFamily(
            "camgate_sessions_timed_out",
            "Sessions ended because their client stopped signalling (client timeout).",
            status.sessions_timed_out,
        )
        hardware = GaugeMetricFamily(
            "camgate_hardware_decoding", "1 for the decoding in use.", labels=["decoder"]
        )
        hardware.add_metric([status.hardware_decoding], 1)
        yield hardware
        per_user = {
            "video_kBps": "Video sent to the user, kB/s.",
            "audio_kBps": "Audio sent to the user, kB/s.",
            "transcoded_video_streams": "Open transcoded video streams.",
            "direct_video_streams": "Open direct video streams.",
            "transcoded_audio_streams": "Open transcoded audio streams.",
        }
        for field, help_text in per_user.items():
            family = GaugeMetricFamily(f"camgate_user_{field.lower()}", help_text, labels=["user"])
            totals: dict[str, float] = {}
            for user in status.users:
                totals[user.user] = totals.get(user.user, 0.0) + float(getattr(user, field))
            for name, value in sorted(totals.items()):
                family.add_metric([name], value)
            yield family


def render(status: Callable[[], ServerStatus]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return generate_latest(registry)
