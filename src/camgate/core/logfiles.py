"""The daily log files: one file a day in the log folder, kept for the log retention (the
manual's "today's log file" and "log folder"), written by a thread of their own."""

from __future__ import annotations

import logging
import logging.handlers
import queue
from pathlib import Path

LOG_FILE = "camgate.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Records waiting for the file thread; beyond that (a stalled disk) they are dropped.
MAX_WAITING = 10_000


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Never blocks the logging thread (the event loop): a full queue drops the record."""

    dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


def log_folder(data_dir: Path, configured: str) -> Path:
    """The log folder of the settings: a relative one lies in the data folder."""
    folder = Path(configured).expanduser()
    return folder if folder.is_absolute() else data_dir / folder


def install(folder: Path, retention_days: int) -> logging.handlers.QueueListener:
    """Sends every log record also to ``folder/camgate.log``, which starts anew at midnight;
    the files of the last ``retention_days`` days are kept (``camgate.log.YYYY-MM-DD``).
    Stop the returned listener at exit (it flushes)."""
    folder.mkdir(parents=True, exist_ok=True)
    daily = logging.handlers.TimedRotatingFileHandler(
        folder / LOG_FILE, when="midnight", backupCount=retention_days, encoding="utf-8"
    )
    daily.setFormatter(logging.Formatter(FORMAT))
    waiting: queue.Queue[logging.LogRecord] = queue.Queue(MAX_WAITING)
    logging.getLogger().addHandler(_DroppingQueueHandler(waiting))
    listener = logging.handlers.QueueListener(waiting, daily, respect_handler_level=True)
    listener.start()
    return listener
