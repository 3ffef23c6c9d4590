"""How the judge touches the file system where a submission could have planted something.

Reading: a file the judge reads from a submission (a module, a notebook, ``harness.toml``) or reads
back from its own output folder must be a regular file reached through real folders. It is opened
without following a link (``O_NOFOLLOW``, every folder on the way too) and without blocking
(``O_NONBLOCK``: a FIFO opens at once and is then refused), checked with ``fstat`` on the open file
(not on a name that could change under it), and read up to a cap. Symbolic links are refused even
when they point inside the submission: the rule is one sentence and nothing is resolved.

Writing: every file the harness produces (results, reports, the overview, gradebooks, CI files) goes
through ``write_output``: written under a unique temporary name in its own folder, then renamed over
the final name, never through a link, in folders reached without following links from the one the
user named.

Walking: ``walk`` lists a submission's tree without following links, with a bound on the entries.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

MIB = 1024 * 1024
CHUNK = 1024 * 1024
RESULTS_BYTES = 256 * MIB  # a results.json read back (figures included)
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class FileRefused(OSError):
    """A file the judge will not read: a link, not a regular file, or over its size cap. The message names the
    file (relative to the folder it was read from) and says how to fix it."""


class OutputError(OSError):
    """An output path the harness will not write through (a link, a file where a folder should be)."""


def kind(mode: int) -> str:
    """What a file of this mode is, in words: "a symbolic link", "a named pipe (FIFO)", …"""
    for test, words in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                        (stat.S_ISBLK, "a device"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return words
    return "not a regular file"


def refusal(name: str, mode: int) -> str:
    """Why ``name`` (of this lstat mode) is not read, and what to submit instead."""
    if stat.S_ISLNK(mode):
        return f"{name} is a symbolic link; submit the file itself"
    return f"{name} is {kind(mode)}, not a regular file; submit the file itself"


def megabytes(size: int) -> str:
    return f"{size / MIB:.1f} MB" if size < 10 * MIB else f"{size / MIB:.0f} MB"


def _open_in(root: Path | str, relative: str, flags: int) -> tuple[int, str]:
    """Open ``relative`` under ``root`` without following a link anywhere on the way: (fd, display name)."""
    parts = [p for p in Path(relative).parts if p not in ("", ".")]
    if not parts or ".." in parts or Path(relative).is_absolute():
        raise FileRefused(f"{relative}: not a path inside the submission folder")
    shown = "/".join(parts)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                child = os.open(part, _FOLDER, dir_fd=fd)
            except OSError as exc:
                _refuse_step(exc, fd, part, "/".join(parts[: i + 1]))
            os.close(fd)
            fd = child
        try:
            found = os.open(parts[-1], flags, dir_fd=fd)
        except OSError as exc:
            _refuse_step(exc, fd, parts[-1], shown)
    finally:
        os.close(fd)
    return found, shown


def _refuse_step(exc: OSError, folder_fd: int, part: str, shown: str):
    """Turn an open that failed on a link, a loop or a non-folder into a FileRefused; re-raise the rest."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK, errno.ENXIO, errno.EISDIR, errno.EOPNOTSUPP):
        try:
            mode = os.lstat(part, dir_fd=folder_fd).st_mode
        except OSError:
            raise exc from None
        raise FileRefused(refusal(shown, mode)) from None
    raise exc


def read_regular(root: Path | str, relative: str, cap: int, raise_key: str = "") -> bytes:
    """The bytes of the regular file ``relative`` under ``root``, at most ``cap`` of them.

    Refused (FileRefused): a link anywhere on the way (a loop included), a FIFO, device, socket or
    folder, a file over ``cap`` (the message names ``raise_key`` as the way to raise it). Never blocks
    on a FIFO; never reads more than ``cap`` + 1 bytes whatever the file claims to be.
    Missing files raise FileNotFoundError."""
    fd, shown = _open_in(root, relative, _READ)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(refusal(shown, info.st_mode))
        if info.st_size > cap:
            raise FileRefused(too_large(shown, info.st_size, cap, raise_key))
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(CHUNK, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:  # it grew while read
            raise FileRefused(too_large(shown, total, cap, raise_key))
        return b"".join(chunks)
    finally:
        os.close(fd)


def too_large(shown: str, size: int, cap: int, raise_key: str) -> str:
    fix = f"; an instructor can raise {raise_key}" if raise_key else ""
    return (f"{shown} is {megabytes(size) if size >= MIB else f'{size} bytes'}, over the "
            f"{megabytes(cap) if cap >= MIB else f'{cap // 1024} KB'} the grader reads from it: make it smaller{fix}")


def read_path(path: Path | str, cap: int) -> bytes:
    """``read_regular`` for one path: its folder is trusted as given, the file itself is not."""
    path = Path(path)
    return read_regular(path.parent, path.name, cap)


# --------------------------------------------------------------------------- walking a tree


@dataclass(frozen=True)
class Entry:
    """One entry of a walked tree: its path relative to the root (POSIX) and its lstat result."""

    relative: str
    info: os.stat_result

    @property
    def is_regular(self) -> bool:
        return stat.S_ISREG(self.info.st_mode)

    @property
    def is_folder(self) -> bool:
        return stat.S_ISDIR(self.info.st_mode)


class TooManyEntries(Exception):
    """A walk met more entries than its bound."""


def walk(root: Path | str, skip: set[str] | frozenset[str] = frozenset(), max_entries: int = 20_000) -> Iterator[Entry]:
    """Every entry under ``root`` in sorted order, folders before their contents, links never followed (so no
    loop), folders named in ``skip`` left out. Raises TooManyEntries past ``max_entries``."""
    seen = 0
    stack = [""]
    while stack:
        folder = stack.pop()
        fd = _open_in(root, folder, _FOLDER)[0] if folder else os.open(root, _FOLDER & ~os.O_NOFOLLOW)
        try:
            with os.scandir(fd) as listing:
                items = [(item.name, item.stat(follow_symlinks=False)) for item in listing]
        finally:
            os.close(fd)
        items.sort()
        children = []
        for name, info in items:
            seen += 1
            if seen > max_entries:
                raise TooManyEntries(f"more than {max_entries} files and folders")
            relative = f"{folder}/{name}" if folder else name
            if stat.S_ISDIR(info.st_mode):
                if name in skip:
                    continue
                children.append(relative)
            yield Entry(relative, info)
        stack.extend(reversed(children))


# --------------------------------------------------------------------------- writing


def write_output(path: Path | str, data: str | bytes, within: Path | str | None = None) -> Path:
    """Write ``data`` to ``path`` atomically, never through a link.

    ``within``: the folder the caller owns (``--out``, or the working folder for ``reports/<name>``):
    each folder between it and the file is created, or must be a real folder (a link is refused, never
    followed). Without ``within``, the file's folder is the user's own choice and is created as given.
    The file itself must be absent or a regular file; it is replaced by a rename from a unique
    temporary name in the same folder, so a reader sees the old file or the new one, never half."""
    path = Path(path)
    if within is None and os.path.abspath(path) == os.devnull:
        return path  # the user named the null device: they asked for the output to be discarded
    folder, name = _open_folder(path, within, create=True)
    try:
        return _replace_in(folder, name, data.encode("utf-8") if isinstance(data, str) else data, path)
    finally:
        os.close(folder)


def remove_output(path: Path | str, within: Path | str) -> None:
    """Remove the file ``path`` below ``within`` if it is there, never through a linked folder."""
    path = Path(path)
    try:
        folder, name = _open_folder(path, within, create=False)
    except FileNotFoundError:
        return
    try:
        os.unlink(name, dir_fd=folder)
    except FileNotFoundError:
        pass
    finally:
        os.close(folder)


def _open_folder(path: Path, within: Path | str | None, create: bool) -> tuple[int, str]:
    """The folder that holds ``path``, opened through real folders from ``within``: (fd, file name)."""
    if within is None:
        within, relative = path.parent, Path(path.name)
    else:
        try:
            relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(within))
        except ValueError:
            raise OutputError(f"{path} is not inside {within}") from None
    parts = relative.parts
    if not parts or ".." in parts:
        raise OutputError(f"{path}: not a file path inside {within}")
    if create:
        Path(within).mkdir(parents=True, exist_ok=True)
    folder = os.open(within, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts[:-1]:
            folder = _enter(folder, part, path, create)
    except BaseException:
        os.close(folder)
        raise
    return folder, parts[-1]


def _enter(folder: int, part: str, path: Path, create: bool) -> int:
    """The folder ``part`` inside ``folder`` (created when missing), opened without following a link; the
    parent's descriptor is closed."""
    if create:
        try:
            os.mkdir(part, 0o777, dir_fd=folder)
        except FileExistsError:
            pass
    try:
        child = os.open(part, _FOLDER, dir_fd=folder)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        mode = os.lstat(part, dir_fd=folder).st_mode
        raise OutputError(f"cannot write {path}: {part} is {kind(mode)}, not a folder, and the harness never "
                          "writes through one; remove it, or write elsewhere") from None
    os.close(folder)
    return child


def _replace_in(folder: int, name: str, data: bytes, path: Path) -> Path:
    try:
        mode = os.lstat(name, dir_fd=folder).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise _not_a_file(path, mode)
    temporary = f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temporary, _CREATE, 0o666, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=folder)
        except OSError:
            pass
        raise
    return path


def check_output(path: Path | str) -> Path:
    """Refuse ``path`` when it exists and is not a regular file (for a file another library opens, SQLite's)."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(mode):
        raise _not_a_file(path, mode)
    return path


def _not_a_file(path: Path, mode: int) -> OutputError:
    return OutputError(f"cannot write {path}: it is {kind(mode)}, and the harness never writes through one; "
                       "remove it, or write elsewhere")
