from __future__ import annotations

from camgate.media.source import SourceError, SourceKind, SourceSpec, describe_error

SPEC = SourceSpec("rtsp://user:SECRETPW@10.0.0.9/x", SourceKind.RTSP)


def test_failure_reasons_never_hold_credentials() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    assert describe_error(refused, SPEC) == "Connection refused"
    opaque = RuntimeError(f"cannot open {SPEC.url}")
    assert "SECRETPW" not in describe_error(opaque, SPEC)
    assert "10.0.0.9" in describe_error(opaque, SPEC)
    assert describe_error(SourceError("unsupported codec mjpeg"), SPEC) == "unsupported codec mjpeg"
    assert "SECRETPW" not in SPEC.display_url
