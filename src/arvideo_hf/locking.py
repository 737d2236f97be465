# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""One writer per output folder, and the mark that says which command made a folder.

`OutputLock` holds an exclusive POSIX record lock (`fcntl.lockf`) on `FOLDER/.arvideo.lock` for a whole run. The
kernel releases it when the process ends in any way (SIGKILL included), and forked children (DataLoader workers, a
process pool) do not inherit it, so a lock left by a killed run is free at once: its file, which still names the dead
holder, is reported as stale, never trusted. A second run on the folder is refused naming the holder (command, pid,
host, start time); within one process a registry refuses a second hold (POSIX locks do not conflict there). The
lock is advisory, and spans hosts only where the filesystem forwards POSIX locks (NFSv4, Lustre, GPFS).

`claim_folder` writes `FOLDER/.arvideo-owner.json` naming the command that made the folder's outputs: commands that
delete (`--overwrite_output_dir`, the demo builder) only ever delete in a folder that names them.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)
LOCK_NAME = ".arvideo.lock"
OWNER_NAME = ".arvideo-owner.json"
_HELD: set[str] = set()  # lock files this process holds


class OutputLockedError(RuntimeError):
    """Another live process holds the output folder."""


class OutputLock:
    """An exclusive lock on `folder` for `command`, held from `acquire()` to `release()` (or the process's end)."""

    def __init__(self, folder: str | os.PathLike, command: str) -> None:
        self.folder, self.command = Path(folder), command
        self.path = self.folder / LOCK_NAME
        self.handle: Any = None

    def acquire(self) -> OutputLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        if key in _HELD:
            raise OutputLockedError(f"{self.folder} is in use by another run in this process "
                                    f"({describe_holder(self.path)}).")
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the whole run
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EACCES or EAGAIN: held by another process
            handle.close()
            raise OutputLockedError(
                f"{self.folder} is in use by another run ({describe_holder(self.path)}). One writer per output "
                "folder: wait for that run to end (or stop it), or choose another output folder."
            ) from None
        _HELD.add(key)
        handle.seek(0)
        stale = handle.read().strip()
        if stale:
            logger.warning(f"{self.path}: the run that held it ({describe_holder(self.path, stale)}) ended without "
                           "releasing it (killed?); its lock is stale and is taken over.")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        handle.flush()
        os.fsync(handle.fileno())
        self.handle = handle
        return self

    def release(self) -> None:
        """Empty the lock file (a clean exit leaves nothing that looks stale) and unlock."""
        if self.handle is None:
            return
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.flush()
        fcntl.lockf(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        self.handle = None
        _HELD.discard(str(self.path.resolve()))

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def describe_holder(path: Path, text: str | None = None) -> str:
    """`"pretrain, pid 123 on host h, started ..."` from a lock file (retried briefly: the holder may be writing)."""
    for _ in range(20):
        try:
            holder = json.loads(text if text is not None else path.read_text())
            return (f"{holder.get('command')}, pid {holder.get('pid')} on host {holder.get('host')}, "
                    f"started {holder.get('started')}")
        except (OSError, ValueError):
            if text is not None:
                break
            time.sleep(0.05)
    return f"holder not recorded in {path}"


def folder_owner(folder: str | os.PathLike) -> str | None:
    """The command that marked `folder` as its own, or None."""
    try:
        return json.loads((Path(folder) / OWNER_NAME).read_text()).get("command")
    except (OSError, ValueError, AttributeError):
        return None


def claim_folder(folder: str | os.PathLike, command: str) -> None:
    """Mark `folder` as holding `command`'s outputs (kept if it already says so)."""
    if folder_owner(folder) != command:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / OWNER_NAME).write_text(json.dumps({"command": command}) + "\n")


def check_deletable(folder: str | os.PathLike, command: str, found: list[Path], flag: str) -> None:
    """Refuse to delete `found` (earlier outputs in `folder`) unless `folder` is marked as `command`'s own."""
    owner = folder_owner(folder)
    if found and owner != command:
        made_by = f"marked as made by {owner!r}" if owner else "not marked as made by this command"
        raise FileExistsError(
            f"{flag}: {folder} holds {[path.name for path in found]} but is {made_by}; it deletes only outputs that "
            f"a {command} run wrote there. Choose another folder, or move those files yourself."
        )


def delete_outputs(found: list[Path]) -> None:
    """Delete earlier outputs that `check_deletable` cleared: folders with their contents, files, and links as links
    (never what a link points to)."""
    for path in found:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


@contextmanager
def hold_output_dir(folder: str | os.PathLike, command: str) -> Iterator[OutputLock | None]:
    """`OutputLock` on `folder` for a run of one or many processes: the main process locks it, and a refusal reaches
    every process (all raise, none is left waiting for the others). Released when the block ends, however. The process
    state is accelerate's, set up as `Accelerator()` would (`ACCELERATE_USE_CPU` read) when nothing set it up yet."""
    # accelerate is the `train` extra: here, not at the top, so the data tools import without it
    from accelerate import PartialState  # noqa: PLC0415
    from accelerate.utils import broadcast_object_list, parse_flag_from_env  # noqa: PLC0415

    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    lock, error = None, ""
    if state.is_main_process:
        try:
            lock = OutputLock(folder, command).acquire()
        except OutputLockedError as err:
            error = str(err)
    if state.num_processes > 1:
        box = [error]
        broadcast_object_list(box, from_process=0)
        error = box[0]
    if error:
        raise OutputLockedError(error)
    try:
        yield lock
    finally:
        if lock is not None:
            lock.release()


__all__ = ["LOCK_NAME", "OWNER_NAME", "OutputLock", "OutputLockedError", "check_deletable", "claim_folder",
           "delete_outputs", "folder_owner", "hold_output_dir"]
