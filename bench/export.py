"""Exports: an hour of 1080p as MKV, native and AVI beside ffmpeg and a plain copy, and a data
protection password change on gigabytes of investigations.

Recording: the synthetic 1080p camera's clip (30 fps, GOP 1 s, ~4 Mbit/s) laid end to end for
``--minutes`` and written with :class:`SegmentWriter` into 60 s segments, as the recorder
writes them. Both sides read the same segment files from the page cache (just written).

* MKV: camgate prepares the export as the server does (``jobs.run_job``: remuxed by PyAV's
  Matroska muxer into an encrypted file, 1 MiB AES-GCM chunks) and, to show the encryption's
  share, the same remux into a plain file; the peer is ``ffmpeg -f concat -safe 0 -i list
  -c copy out.mkv`` over the segment files (no encryption). Ratio: ffmpeg time / camgate time
  (above 1: camgate is faster).
* Native: ``run_job`` (a signed ZIP of the segment files, every file hashed, encrypted at rest)
  against the floor the issue names: a plain copy of the files plus their SHA-256 (in this
  process, 1 MiB reads). Ratio: camgate time / floor (target within 1.5).
* AVI (``--avi-minutes`` of the hour: re-encoding an hour takes a quarter of an hour per side):
  ``media.export.write_avi`` with mpeg4 at quantizer 3 into a plain file, against ``ffmpeg -f
  concat … -c:v mpeg4 -q:v 3 out.avi``. Ratio: ffmpeg time / camgate time (target ≥ 0.9).
* Password change: ``--protect-gb`` of encrypted export files in ``--investigations`` folders
  under one keyring, then ``protection.change`` (old password → new) timed; beside it, what
  re-encrypting those files would take (decrypt and encrypt one investigation, times their
  number) — the design an envelope avoids.

Usage: python -m bench.export [--minutes 60] [--avi-minutes 2] [--protect-gb 10]
       [--investigations 10]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import av

from bench.common import machine
from bench.recording import timeline, write_hour
from camgate.investigations import protection
from camgate.investigations.jobs import ExportJob, ExportPlan, TrackPlan, run_job
from camgate.investigations.models import ExportFormat
from camgate.investigations.sealed import SealedFile
from camgate.investigations.signing import SigningKey
from camgate.media import export as media_export
from camgate.media.mp4file import Cut
from camgate.media.segment import ClosedSegment
from camgate.media.source import read_packets
from camgate.media.synthetic import PROFILES, ensure_clip

COPY_CHUNK = 1 << 20
OLD_PASSWORD = "old data protection password"
NEW_PASSWORD = "new data protection password"


class Sealer:
    """Stands in for the server's key (the unattended copy is not what is measured)."""

    def seal(self, secret: bytes) -> str:
        return secret.hex()

    def unseal(self, sealed: str) -> bytes:
        return bytes.fromhex(sealed)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def cuts_of(segments: Sequence[ClosedSegment]) -> tuple[Cut, ...]:
    return tuple(Cut(s, s.start_dts, s.end_dts) for s in segments)


def plan(export_format: ExportFormat, segments: Sequence[ClosedSegment]) -> ExportPlan:
    return ExportPlan(
        format=export_format,
        investigation_name="Bench",
        start=segments[0].start_wallclock,
        end=segments[-1].end_wallclock,
        tracks=(TrackPlan("cam", "Bench", cuts_of(segments)),),
        include_audio=False,
        password=None,
        avi_codec="mpeg4",
        avi_timestamp=False,
        avi_audio_bitrate=160_000,
    )


def camgate_job(
    export_format: ExportFormat, segments: Sequence[ClosedSegment], out: Path, signer: SigningKey
) -> float:
    job = ExportJob(plan(export_format, segments), out, os.urandom(32), signer, None)
    return timed(lambda: run_job(job))


def plain_mkv(segments: Sequence[ClosedSegment], out: Path) -> float:
    def work() -> None:
        with out.open("wb") as file:
            media_export.write_mkv(
                [media_export.ExportTrack("Bench", cuts_of(segments))],
                file,
                origin=segments[0].start_wallclock,
                progress=lambda fraction: None,
                cancelled=lambda: False,
            )

    return timed(work)


def plain_avi(segments: Sequence[ClosedSegment], out: Path) -> float:
    def work() -> None:
        with out.open("wb") as file:
            media_export.write_avi(
                media_export.ExportTrack("Bench", cuts_of(segments)),
                file,
                codec="mpeg4",
                progress=lambda fraction: None,
                cancelled=lambda: False,
            )

    return timed(work)


def concat_list(segments: Sequence[ClosedSegment], folder: Path) -> Path:
    listing = folder / "list.txt"
    listing.write_text("".join(f"file '{s.path}'\n" for s in segments))
    return listing


def ffmpeg(listing: Path, out: Path, *codec: str) -> float:
    command = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    return timed(lambda: subprocess.run([*command, *codec, str(out)], check=True))


def copy_and_hash(segments: Sequence[ClosedSegment], folder: Path) -> float:
    def work() -> None:
        folder.mkdir(exist_ok=True)
        for segment in segments:
            digest = hashlib.sha256()
            with segment.path.open("rb") as source, (folder / segment.path.name).open("wb") as out:
                while chunk := source.read(COPY_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            digest.hexdigest()

    return timed(work)


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(container.streams.video[0]) if p.size)


def row(name: str, seconds: float, size: int, versus: float | None, note: str = "") -> str:
    ratio = f"{versus:.2f}" if versus is not None else "—"
    return f"| {name} | {seconds:.2f} | {size / 2**20 / seconds:.0f} | {ratio} | {note} |"


def exports_table(segments: Sequence[ClosedSegment], scratch: Path, avi_minutes: int) -> None:
    signer = SigningKey.load_or_create(scratch / "signing.key")
    listing = concat_list(segments, scratch)
    recorded = sum(s.size for s in segments)
    frames = sum(s.sample_count for s in segments)

    ours = camgate_job(ExportFormat.MKV, segments, scratch / "camgate.mkv", signer)
    plain = plain_mkv(segments, scratch / "plain.mkv")
    theirs = ffmpeg(listing, scratch / "ffmpeg.mkv", "-c", "copy")
    for name in ("plain.mkv", "ffmpeg.mkv"):
        if frames_in(scratch / name) != frames:
            raise SystemExit(f"{name} does not hold the {frames} recorded frames")
    print("\n| export of the hour | seconds | MB/s of recording | ratio | |")
    print("|---|---|---|---|---|")
    print(row("camgate MKV, encrypted at rest", ours, recorded, theirs / ours, "ffmpeg ÷ camgate"))
    print(row("camgate MKV, plain file", plain, recorded, theirs / plain, "ffmpeg ÷ camgate"))
    print(row("ffmpeg `-c copy` to MKV (peer)", theirs, recorded, None))
    for name in ("camgate.mkv", "plain.mkv", "ffmpeg.mkv"):
        (scratch / name).unlink()

    native = camgate_job(ExportFormat.NATIVE, segments, scratch / "camgate.zip", signer)
    floor = copy_and_hash(segments, scratch / "copy")
    print(
        row(
            "camgate native, signed, encrypted at rest",
            native,
            recorded,
            native / floor,
            "camgate ÷ floor",
        )
    )
    print(row("copy + SHA-256 of the files (floor)", floor, recorded, None))
    (scratch / "camgate.zip").unlink()
    shutil.rmtree(scratch / "copy")

    part = segments[: max(1, avi_minutes)]
    part_size = sum(s.size for s in part)
    avi = plain_avi(part, scratch / "camgate.avi")
    peer = ffmpeg(concat_list(part, scratch), scratch / "ffmpeg.avi", "-c:v", "mpeg4", "-q:v", "3")
    part_frames = sum(s.sample_count for s in part)
    fps = part_frames / avi
    print(
        row(
            f"camgate AVI mpeg4, {len(part)} min ({fps:.0f} fps)",
            avi,
            part_size,
            peer / avi,
            "ffmpeg ÷ camgate",
        )
    )
    print(
        row(
            f"ffmpeg mpeg4 `-q:v 3` to AVI (peer, {part_frames / peer:.0f} fps)",
            peer,
            part_size,
            None,
        )
    )


def fill(folder: Path, data_key: bytes, investigations: int, total_bytes: int) -> float:
    """Writes encrypted files as exports are stored; returns the seconds it took."""
    block = os.urandom(COPY_CHUNK)
    each = total_bytes // investigations

    def work() -> None:
        for index in range(investigations):
            target = folder / f"investigation-{index}" / "export.mkv"
            target.parent.mkdir(parents=True)
            with SealedFile.create(target, data_key) as out:
                for _ in range(each // COPY_CHUNK):
                    out.write(block)

    return timed(work)


def reencrypt_one(folder: Path, data_key: bytes) -> float:
    """What a change of password costs without an envelope: one investigation rewritten."""
    source = folder / "investigation-0" / "export.mkv"
    target = source.with_name("reencrypted.mkv")

    def work() -> None:
        new_key = os.urandom(32)
        with SealedFile.open(source, data_key) as old, SealedFile.create(target, new_key) as new:
            while chunk := old.read(COPY_CHUNK):
                new.write(chunk)

    seconds = timed(work)
    target.unlink()
    return seconds


def password_table(scratch: Path, gigabytes: float, investigations: int) -> None:
    folder = scratch / "investigations"
    sealer = Sealer()
    data_key = protection.create(folder, OLD_PASSWORD, sealer)
    written = fill(folder, data_key, investigations, int(gigabytes * 2**30))
    change = timed(lambda: protection.change(folder, OLD_PASSWORD, NEW_PASSWORD, sealer))
    if protection.unlock(folder, NEW_PASSWORD) != data_key:
        raise SystemExit("the data key changed")
    rewrite = reencrypt_one(folder, data_key) * investigations
    print(
        f"\n| data protection password change, {gigabytes:g} GiB in {investigations} "
        "investigations | seconds | per investigation |"
    )
    print("|---|---|---|")
    print(
        f"| camgate (envelope: the data key rewrapped) | {change:.3f} | "
        f"{change / investigations * 1000:.1f} ms |"
    )
    print(
        f"| re-encrypting every file (estimated from one) | {rewrite:.1f} | "
        f"{rewrite / investigations:.2f} s |"
    )
    print(f"(writing the {gigabytes:g} GiB encrypted took {written:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--avi-minutes", type=int, default=2)
    parser.add_argument("--protect-gb", type=float, default=10)
    parser.add_argument("--investigations", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed (apt-get install ffmpeg)")
    print(f"Exports of {args.minutes} min of 1080p; {machine()}")
    with tempfile.TemporaryDirectory(prefix="camgate-export-") as folder:
        scratch = Path(folder)
        clip = read_packets(ensure_clip(scratch / "clip", "Bench", PROFILES[0]))
        segments, _ = write_hour(timeline(clip, args.minutes * 60), scratch / "recordings")
        exports_table(segments, scratch, args.avi_minutes)
        password_table(scratch, args.protect_gb, args.investigations)


if __name__ == "__main__":
    main()
