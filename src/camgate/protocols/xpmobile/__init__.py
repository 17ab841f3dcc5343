"""The XProtect Mobile protocol adapter: the command channel of the protocol's clients (the
mobile apps and the web client library), mapped onto camgate's services.

Modules: ``messages`` (XML parsing and rendering, pure), ``crypto`` (the Diffie-Hellman and AES
session crypto, pure), ``catalogue`` and ``features`` (the catalogue tree and the login flags,
pure), ``connections`` (the bounded table of connections), ``commands`` (the command table),
``api`` (the HTTP route). The reference: docs/ref/xpmobile.md.
"""
