"""A multipart form read as it streams: small fields in memory, the one file to a temporary file.

The file is hashed and measured while it arrives and refused the moment it passes a limit, so an
oversized upload costs neither memory nor a full transfer. Nothing here reaches storage or the
database: the caller judges the bytes, then stores them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from app.domain.errors import (
    BadRequest,
    CaseStorageFull,
    FieldProblem,
    FileTooLarge,
    InvalidInput,
    UnsupportedMediaType,
)

HEAD_BYTES = 4096  # enough to judge a file's type by its first bytes
# Room for the form's text fields and part headers beside the file, for the edge's body ceiling.
UPLOAD_FORM_ALLOWANCE = 256 * 1024


class MalformedMultipart(BadRequest):
    code = "malformed_multipart"
    title = "Malformed form body"


@dataclass
class ReceivedFile:
    path: Path
    filename: str | None
    declared_type: str | None
    size: int = 0
    head: bytes = b""
    sha256: str = ""


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None
    _dir: str | None = None

    def close(self) -> None:
        """Remove the temporary file; call in a ``finally``."""
        if self.file is not None:
            self.file.path.unlink(missing_ok=True)
        if self._dir is not None:
            os.rmdir(self._dir)
            self._dir = None


@dataclass(frozen=True, slots=True)
class UploadLimits:
    file_bytes: int  # MAX_EVIDENCE_FILE_BYTES
    room_bytes: int  # what the case may still take (MAX_EVIDENCE_CASE_BYTES minus its evidence)
    field_chars: dict[str, int]  # every accepted text field and its maximum length
    file_field: str = "file"


class _Reader:
    def __init__(self, limits: UploadLimits, form: ReceivedForm) -> None:
        self.limits, self.form = limits, form
        self.header_name = self.header_value = b""
        self.disposition = b""
        self.part_type: str | None = None
        self.name: str | None = None
        self.text: bytearray | None = None
        self.out: IO[bytes] | None = None
        self.hasher = hashlib.sha256()
        self.head = bytearray()
        self.size = 0

    def on_part_begin(self) -> None:
        self.disposition, self.part_type, self.name, self.text = b"", None, None, None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.lower()
        if name == b"content-disposition":
            self.disposition = self.header_value
        elif name == b"content-type":
            self.part_type = self.header_value.decode("latin-1").strip()[:100] or None
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise MalformedMultipart("Every part needs a Content-Disposition header with a name.")
        name = raw_name.decode("utf-8", "replace")
        if name == self.limits.file_field:
            if self.out is not None or self.form.file is not None:
                raise _invalid(name, "send one file per evidence item")
            filename = options.get(b"filename")
            self.form._dir = tempfile.mkdtemp(prefix="cbd-upload-")
            path = Path(self.form._dir) / "file"
            self.form.file = ReceivedFile(
                path=path,
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                declared_type=self.part_type,
            )
            self.out = path.open("wb")
        elif name in self.limits.field_chars:
            if name in self.form.fields:
                raise _invalid(name, "sent more than once")
            self.text = bytearray()
        else:
            raise _invalid(name, "unknown field")
        self.name = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.text is not None:
            self.text += chunk
            limit = self.limits.field_chars[self.name or ""]
            if len(self.text) > 4 * limit:  # UTF-8: at most 4 bytes a character; checked exactly at the end
                raise _invalid(self.name or "", f"at most {limit} characters")
            return
        if self.out is None:
            return
        self.size += len(chunk)
        if self.size > self.limits.file_bytes:
            raise FileTooLarge(
                f"The file is larger than the {self.limits.file_bytes}-byte limit per file "
                f"(MAX_EVIDENCE_FILE_BYTES); {self.size} bytes had arrived when it was refused."
            )
        if self.size > self.limits.room_bytes:
            raise CaseStorageFull(
                f"The case has room for {self.limits.room_bytes} more bytes of evidence "
                f"(MAX_EVIDENCE_CASE_BYTES); this file passed that at {self.size} bytes."
            )
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.hasher.update(chunk)
        self.out.write(chunk)

    def on_part_end(self) -> None:
        if self.text is not None and self.name is not None:
            try:
                value = self.text.decode("utf-8")
            except UnicodeDecodeError:
                raise _invalid(self.name, "must be UTF-8 text") from None
            limit = self.limits.field_chars[self.name]
            if len(value) > limit:
                raise _invalid(self.name, f"at most {limit} characters")
            self.form.fields[self.name] = value
            self.text = None
        elif self.out is not None and self.form.file is not None:
            self.out.close()
            self.out = None
            self.form.file.size = self.size
            self.form.file.head = bytes(self.head)
            self.form.file.sha256 = self.hasher.hexdigest()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


def _invalid(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"Form field `{name}`: {message}.", errors=[FieldProblem(name, message)])


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary, or 415 for a body that is not ``multipart/form-data``."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType(
            "Send the evidence as multipart/form-data "
            "(or, without a file, as application/x-www-form-urlencoded)."
        )
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise MalformedMultipart("The multipart body has no usable boundary.")
    return boundary


async def read_form(
    chunks: AsyncIterator[bytes], content_type: str | None, limits: UploadLimits
) -> ReceivedForm:
    """The form of a streaming multipart body; on any error nothing is left on disk."""
    if parse_options_header(content_type or "")[0] == b"application/x-www-form-urlencoded":
        return await _read_urlencoded(chunks, limits)
    boundary = boundary_of(content_type)
    form = ReceivedForm()
    reader = _Reader(limits, form)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
        },
        max_header_count=8,
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
        if parser.state != MultipartState.END:  # the body stopped before its closing boundary
            raise MalformedMultipart("The multipart body ended before its closing boundary.")
    except FormParserError:
        reader.close()
        form.close()
        raise MalformedMultipart("The multipart body could not be parsed.") from None
    except BaseException:
        reader.close()
        form.close()
        raise
    return form


async def _read_urlencoded(chunks: AsyncIterator[bytes], limits: UploadLimits) -> ReceivedForm:
    """A form without a file (text evidence), as a browser or ``curl -d`` sends it."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > UPLOAD_FORM_ALLOWANCE:
            raise _invalid("text", "the form is too long")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise MalformedMultipart("The form body could not be parsed.") from None
    form = ReceivedForm()
    for name, value in pairs:
        if name == limits.file_field:
            raise _invalid(name, "send files as multipart/form-data")
        limit = limits.field_chars.get(name)
        if limit is None:
            raise _invalid(name, "unknown field")
        if name in form.fields:
            raise _invalid(name, "sent more than once")
        if len(value) > limit:
            raise _invalid(name, f"at most {limit} characters")
        form.fields[name] = value
    return form
