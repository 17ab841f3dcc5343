"""The XProtect Mobile protocol adapter: the command channel and the video channel of the
protocol's clients (the mobile apps and the web client library), mapped onto camgate's services.

Pure: ``messages`` (XML parsing and rendering), ``crypto`` (the Diffie-Hellman and AES session
crypto), ``catalogue`` and ``features`` (the catalogue tree, the login flags), ``frames`` (the
video channel's frame headers), ``times``. State: ``connections`` and ``streams`` (bounded
tables), ``channel`` (both, on the app's state). Commands: ``call`` (what a command gets),
``commands`` (the table; session and catalogue), ``live``, ``recordings``, ``bookmarks``,
``evidence`` (server status, outputs and events), ``investigations``. Routes: ``api`` (the
command channel), ``video`` (the video channel), ``samples`` (the reference client's sample
pages, when asked for). The reference: docs/ref/xpmobile.md.
"""
