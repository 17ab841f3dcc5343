"""The feature flags that LogIn answers: what the server offers this user over the protocol.

A flag is Yes when camgate's settings turn the feature on, the user's role has its permission,
and this adapter serves it (its command is in the command table): a client does not offer what
would fail. A later step that adds, say, ``RequestStream`` turns its flags on by itself. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass

from camgate.identity.models import Permission, User
from camgate.protocols.xpmobile.messages import yes
from camgate.settings import ExportFormats, SettingsTree

#: Served capabilities that are not commands of their own (RequestStream variants).
FRAGMENTED_MP4 = "StreamType=FragmentedMP4"
UPLOAD = "SignalType=Upload"


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    #: The command (or capability) of this adapter that the feature needs.
    needs: str
    allowed: Callable[[SettingsTree, User], bool]


def _export(chosen: Callable[[ExportFormats], bool]) -> Callable[[SettingsTree, User], bool]:
    def allowed(tree: SettingsTree, user: User) -> bool:
        investigations = tree.investigations
        return (
            investigations.enabled
            and chosen(investigations.export_formats)
            and user.may(Permission.EXPORT)
        )

    return allowed


FLAGS = (
    Flag("TranscodedStreamingAvailable", "RequestStream", lambda t, u: u.may(Permission.LIVE)),
    Flag("NativeStreamingAvailable", FRAGMENTED_MP4, lambda t, u: t.performance.direct_streaming),
    Flag("NativeStreamingSuggested", FRAGMENTED_MP4, lambda t, u: t.performance.direct_streaming),
    Flag("DirectStreamingLive", FRAGMENTED_MP4, lambda t, u: t.performance.direct_streaming),
    Flag("ExportToAvi", "StartInvestigationExport", _export(lambda f: f.avi)),
    Flag("ExportToDb", "StartInvestigationExport", _export(lambda f: f.native)),
    Flag("ExportToMkv", "StartInvestigationExport", _export(lambda f: f.mkv)),
    Flag("VideoPush", UPLOAD, lambda t, u: t.video_push.enabled and u.may(Permission.VIDEO_PUSH)),
    Flag(
        "SupportsIncomingAudio",
        "RequestAudioStream",
        lambda t, u: t.general.features.incoming_audio and u.may(Permission.INCOMING_AUDIO),
    ),
    Flag(
        "SupportsOutgoingAudio",
        "RequestAudioStreamIn",
        lambda t, u: t.general.features.push_to_talk and u.may(Permission.PUSH_TO_TALK),
    ),
    Flag(
        "SupportsOutgoingPTTAudio",
        "RequestAudioStreamIn",
        lambda t, u: t.general.features.push_to_talk and u.may(Permission.PUSH_TO_TALK),
    ),
    Flag("SupportsExtendedResamplingFactor", "RequestStream", lambda t, u: True),
    Flag(
        "MultiCameraPlayback",
        "CreatePlaybackController",
        lambda t, u: u.may(Permission.PLAYBACK),
    ),
)


def login_flags(tree: SettingsTree, user: User, served: Container[str]) -> list[tuple[str, str]]:
    """LogIn's output parameters: the flags, the server's description, the user."""
    flags = [(flag.name, yes(flag.needs in served and flag.allowed(tree, user))) for flag in FLAGS]
    if tree.general.description:
        flags.append(("ServerDescription", tree.general.description))
    flags += [("Username", user.username), ("Email", user.email)]
    return flags
