"""A real RTSP camera on loopback: Debian's GStreamer RTSP server (run with Debian's python3).

Usage: python3 gst_rtsp_server.py PORT [aac|pcmu]
Serves rtsp://127.0.0.1:PORT/cam, a live 640x360 30 fps H.264 test pattern (GOP 30), with a
440 Hz tone when an audio codec is named (AAC 48 kHz, or G.711 mu-law 8 kHz; mono), and prints
"ready" once it listens.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

VIDEO = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=800 "
    "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
TONE = "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! audio/x-raw,channels=1,rate="
AUDIO = {
    "aac": TONE + "48000 ! audioconvert ! voaacenc bitrate=64000 ! rtpmp4gpay name=pay1 pt=97",
    "pcmu": TONE + "8000 ! audioconvert ! mulawenc ! rtppcmupay name=pay1 pt=0",
}


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    audio = AUDIO[sys.argv[2]] if len(sys.argv) > 2 else ""
    factory.set_launch(f"( {VIDEO} {audio} )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit("cannot listen")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
