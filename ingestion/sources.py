"""Read FHIR exports: Bulk ndjson (plain or gzip) and Bundles / single resources (JSON or gzip).

Yields one ``Item`` per thing read (an ndjson line, a Bundle entry, or a file that could not be read),
so that every resource read is accounted for as written or quarantined.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ingestion.landing import open_regular

EXCERPT_CHARS = 2000


@dataclass(slots=True)
class Item:
    locator: str  # "line 12", "entry 3", "file"
    resource: dict[str, Any] | None  # parsed resource, or None when ``error`` is set
    raw: bytes | None  # the resource JSON as stored in bronze
    error: str | None = None
    fullurls: dict[str, str] | None = (
        None  # Bundle fullUrl -> resource id, for reference resolution
    )
    file_failed: bool = False


class SnapshotMismatch(RuntimeError):
    """A landing file changed after its snapshot was taken: the run must stop, not guess."""


def decompress_verified(name: str, data: bytes) -> tuple[bytes, str | None]:
    """The file's content, gunzipped member by member with each member's CRC and length checked.

    Returns the content of the members that verified and, if one did not, why: nothing unverified ever
    reaches bronze (a damaged deflate stream can decode to plausible but altered lines before its
    checksum fails).
    """
    if not name.lower().endswith(".gz"):
        return data, None
    parts, pos, member = [], 0, 0
    view = memoryview(data)  # slices of a view copy nothing: exports often hold many members
    while pos < len(data):
        if member and data[pos] == 0 and data.count(0, pos) == len(data) - pos:
            break  # trailing zero padding after the last member
        member += 1
        inflater = zlib.decompressobj(wbits=31)
        try:
            chunk = inflater.decompress(view[pos:])
            tail = inflater.flush()
        except zlib.error as exc:
            return b"".join(parts), f"corrupt gzip member {member}: {exc}"
        if not inflater.eof:
            return b"".join(
                parts
            ), f"corrupt gzip member {member}: truncated (no end-of-stream marker)"
        parts.append(chunk + tail if tail else chunk)
        pos = len(data) - len(inflater.unused_data)
    return (parts[0] if len(parts) == 1 else b"".join(parts)), None


def _excerpt(raw: bytes | None) -> bytes | None:
    return raw[:EXCERPT_CHARS] if raw is not None else None


def line_item(lineno: int, line: bytes) -> Item:
    """One ndjson line: a resource, or the reason it is not one."""
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason = "invalid JSON" if line.endswith(b"\n") else "truncated or invalid JSON"
        return Item(f"line {lineno}", None, _excerpt(line), f"{reason}: {exc}")
    if not isinstance(resource, dict):
        return Item(f"line {lineno}", None, _excerpt(line), "line is not a JSON object")
    return Item(f"line {lineno}", resource, line.rstrip(b"\r\n"))


def read_ndjson(name: str, data: bytes) -> Iterator[Item]:
    text, damage = decompress_verified(name, data)
    last = 0
    seen = False
    for lineno, line in enumerate(io.BytesIO(text), 1):
        if line.isspace() or not line:
            continue
        if damage is not None and not line.endswith(b"\n"):
            break  # the last line of the verified part may be cut at a member boundary
        seen = True
        last = lineno
        yield line_item(lineno, line)
    if damage is not None:
        yield Item(
            f"line {last + 1}" if seen else "file",
            None,
            None,
            f"{damage}; the file is unreadable after line {last}",
            file_failed=True,
        )
    elif not seen:
        yield Item("file", None, None, "empty file: no resources", file_failed=True)


def read_json_document(name: str, raw: bytes) -> Iterator[Item]:
    data, damage = decompress_verified(name, raw)
    if damage is not None:
        yield Item("file", None, None, damage, file_failed=True)
        return
    if not data.strip():
        yield Item("file", None, None, "empty file: no resources", file_failed=True)
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if data.lstrip().startswith(b"{") and b"\n{" in data.strip():  # ndjson saved as .json
            yield from read_ndjson(name, raw)
            return
        yield Item("file", None, _excerpt(data), f"invalid JSON document: {exc}", file_failed=True)
        return
    if not isinstance(document, dict):
        yield Item(
            "file",
            None,
            _excerpt(data),
            "JSON document is not a FHIR resource object",
            file_failed=True,
        )
        return
    if document.get("resourceType") != "Bundle":
        yield Item("file", document, data.strip())
        return
    yield from bundle_items(document, None, None)


def bundle_items(
    bundle: dict[str, Any], locator: str | None, fullurls: dict[str, str] | None
) -> Iterator[Item]:
    """One Item per entry of a Bundle: the whole file's (``locator`` None: entries are ``entry 3``) or one
    found at ``locator`` inside another Bundle or on an ndjson line (entries are ``<locator> > entry 3``).
    An entry holding a Bundle comes out as one Item whose resource is that Bundle: the caller unpacks it the
    same way, to any depth. ``fullUrl`` references resolve within the Bundle and the Bundles around it."""
    where = "file" if locator is None else locator
    entries = bundle.get("entry")
    if entries is not None and not isinstance(entries, list):
        yield Item(
            where,
            None,
            _excerpt(orjson.dumps(bundle)),
            f"wrong type: Bundle.entry is not an array ({type(entries).__name__})",
            file_failed=locator is None,
        )
        return
    if not entries:
        yield Item(
            where,
            None,
            _excerpt(orjson.dumps(bundle)),
            "Bundle without entries",
            file_failed=locator is None,
        )
        return
    prefix = "" if locator is None else f"{locator} > "
    urls = dict(fullurls or {})
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(url, str) and url:
            rid = resource.get("id")
            if isinstance(rid, str) and rid:
                urls[url] = rid
            elif rid is None and url.startswith("urn:uuid:"):
                urls[url] = url.rsplit(":", 1)[1]
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            yield Item(
                f"{prefix}entry {index}",
                None,
                _excerpt(orjson.dumps(entry)),
                "Bundle entry without a resource",
            )
            continue
        url = entry.get("fullUrl")
        if resource.get("id") is None and isinstance(url, str) and url.startswith("urn:uuid:"):
            # transaction Bundles may identify new resources only by their fullUrl
            resource = {**resource, "id": url.rsplit(":", 1)[1]}
        yield Item(f"{prefix}entry {index}", resource, orjson.dumps(resource), fullurls=urls)


def is_ndjson(name: str) -> bool:
    return name.lower().endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz"))


def read_bytes(path: Path, expected_sha256: str | None = None) -> bytes:
    """The file's bytes (a regular file only: links are not followed, special files not read), checked against
    the snapshot manifest when a digest is given."""
    with open_regular(path) as fh:
        data = fh.read()
    if expected_sha256 is not None and not expected_sha256.startswith("unreadable:"):
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise SnapshotMismatch(
                f"{path}: content changed since the landing snapshot was taken "
                f"(sha256 {actual[:12]}... != manifest {expected_sha256[:12]}...)"
            )
    return data


def load_file(path: Path, expected_sha256: str | None = None) -> bytes | Item:
    """The file's bytes, or the quarantine item of a file that could not be read.

    A file that was readable when the snapshot was taken and no longer is stops the run
    (SnapshotMismatch), like any other change after the snapshot.
    """
    try:
        return read_bytes(path, expected_sha256)
    except OSError as exc:
        if expected_sha256 is not None and not expected_sha256.startswith("unreadable:"):
            raise SnapshotMismatch(
                f"{path}: readable when the landing snapshot was taken, now "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return Item(
            "file", None, None, f"unreadable file: {type(exc).__name__}: {exc}", file_failed=True
        )


def read_items(name: str, data: bytes) -> Iterator[Item]:
    """Every resource (or failure) in one file's bytes, by its suffix."""
    return read_ndjson(name, data) if is_ndjson(name) else read_json_document(name, data)


def read_file(path: Path, expected_sha256: str | None = None) -> Iterator[Item]:
    """Every resource (or failure) in one landing file."""
    loaded = load_file(path, expected_sha256)
    return iter([loaded]) if isinstance(loaded, Item) else read_items(path.name, loaded)
