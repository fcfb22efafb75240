"""Judging an uploaded evidence file by its bytes, and naming it safely.

Banks accept PDF, JPEG and PNG evidence. A file's name and declared type are the uploader's claim;
``sniff`` decides by its first bytes, and ``inspect`` makes sure the whole file actually parses,
so a damaged, encrypted or disguised file is refused at upload and not when the package is built.
Every refusal is an ``UnsupportedFileType`` whose detail says what the file was found to be.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from PIL import Image, ImageFile
from pypdf import PageObject, PdfReader

from app.domain.errors import UnsupportedFileType

SNIFF_BYTES = 1024  # what ``sniff`` wants to see: tar's marker sits at 257, a PDF header may trail junk
MAX_PIXELS = 50_000_000
MAX_FILENAME = 200
_ACCEPTED = "evidence must be a PDF, JPEG or PNG (judged by its bytes, not its name or declared type)"


class _PypdfLog(logging.Handler):
    """Keeps what pypdf logs while this thread inspects a PDF: each line is damage it read past.

    pypdf only logs some damage even when strict (a content stream that does not decompress), so
    inspection treats a logged problem as a refusal; outside an inspection the lines are dropped.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        problems: list[str] | None = getattr(self._local, "problems", None)
        if problems is not None:
            problems.append(record.getMessage())

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        problems: list[str] = []
        self._local.problems = problems
        try:
            yield problems
        finally:
            self._local.problems = None


_PYPDF_LOG = _PypdfLog()
logging.getLogger("pypdf").addHandler(_PYPDF_LOG)
logging.getLogger("pypdf").propagate = False


class FileKind(enum.Enum):
    """An accepted evidence type: its media type, file extension and Pillow format name."""

    PDF = ("application/pdf", "pdf", None)
    JPEG = ("image/jpeg", "jpg", "JPEG")
    PNG = ("image/png", "png", "PNG")

    def __init__(self, content_type: str, extension: str, pil_format: str | None) -> None:
        self.content_type = content_type
        self.extension = extension
        self.pil_format = pil_format


@dataclass(frozen=True)
class Inspection:
    """What a full parse found: pages (1 for an image) and, for images, the size in pixels."""

    pages: int
    width: int | None = None
    height: int | None = None


# (offset, magic bytes, what a file starting so is): the refusals worth naming precisely.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"MZ", "a Windows executable"),
    (0, b"\x7fELF", "an ELF executable (a Linux or Unix program)"),
    (0, b"\xfe\xed\xfa\xce", "a Mach-O executable (a macOS program)"),
    (0, b"\xfe\xed\xfa\xcf", "a Mach-O executable (a macOS program)"),
    (0, b"\xce\xfa\xed\xfe", "a Mach-O executable (a macOS program)"),
    (0, b"\xcf\xfa\xed\xfe", "a Mach-O executable (a macOS program)"),
    (0, b"\xca\xfe\xba\xbe", "a Mach-O universal binary or a Java class file"),
    (0, b"#!", "a script (it starts with #!)"),
    (0, b"PK\x03\x04", "a ZIP archive (or a ZIP-based document such as .docx, .xlsx or .odt)"),
    (0, b"PK\x05\x06", "a ZIP archive (an empty one)"),
    (0, b"PK\x07\x08", "a ZIP archive (a spanned one)"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (0, b"\x1f\x8b", "a gzip-compressed file"),
    (0, b"BZh", "a bzip2-compressed file"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file"),
    (0, b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (257, b"ustar", "a tar archive"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office document (.doc, .xls or .ppt)"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (8, b"WEBP", "a WebP image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (4, b"ftypheic", "a HEIC image"),
    (4, b"ftypmif1", "a HEIF image"),
    (4, b"ftyp", "an MP4 or QuickTime media file"),
    (0, b"%!PS", "a PostScript file"),
    (0, b"{\\rtf", "an RTF document"),
)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _refuse(what: str) -> UnsupportedFileType:
    return UnsupportedFileType(f"The file's content is {what}; {_ACCEPTED}.")


def sniff(head: bytes) -> FileKind:
    """The accepted type that the file's first bytes (``SNIFF_BYTES`` of them) show.

    A PDF must start with ``%PDF-`` at offset 0: readers tolerate junk before it, but a file with
    something else in front is how PDF polyglots (HTML or ZIP that is also a PDF) are made.
    """
    if head.startswith(b"%PDF-"):
        return FileKind.PDF
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if not head:
        raise UnsupportedFileType(f"The file is empty; {_ACCEPTED}.")
    for offset, magic, what in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            raise _refuse(what)
    if b"%PDF-" in head[:SNIFF_BYTES]:
        raise _refuse("a PDF with other data in front of its %PDF- header")
    raise _refuse(_describe_text(head))


def _describe_text(head: bytes) -> str:
    encoding = "utf-8"
    for bom, name in _BOMS:
        if head.startswith(bom):
            head, encoding = head[len(bom) :], name
            break
    text = head[:SNIFF_BYTES].decode(encoding, "replace").lstrip().lower()
    if text.startswith("<"):
        if "<svg" in text:
            return "an SVG image"
        if any(tag in text for tag in ("<!doctype html", "<html", "<head", "<body", "<script")):
            return "an HTML document"
        return "an XML document" if text.startswith("<?xml") else "HTML or XML markup"
    printable = sum(c.isprintable() or c in "\t\r\n" for c in text)
    if "\ufffd" not in text and printable >= 0.95 * len(text):
        return "plain text of an unknown kind"
    return "binary data of an unknown kind"


def inspect(path: Path, kind: FileKind) -> Inspection:
    """Parse the whole file as ``kind``; any damage, encryption or oversize is a refusal."""
    if kind is FileKind.PDF:
        return _inspect_pdf(path)
    return _inspect_image(path, kind)


_SERVER_PATH = re.compile(r"""['"]?(?<![\w.])/[^\s'"/]+/[^\s'"]*['"]?""")


def _reason(problem: BaseException | str) -> str:
    # Libraries name the spooled file by its path: a client is told of "the file", not of our disk.
    text = _SERVER_PATH.sub("(the upload)", " ".join(str(problem).split())) or type(problem).__name__
    return "".join(c if c.isprintable() else "?" for c in text)[:160]


def _inspect_pdf(path: Path) -> Inspection:
    with path.open("rb") as f, _PYPDF_LOG.collect() as problems:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 1024))
        if b"%%EOF" not in f.read():
            raise UnsupportedFileType("The PDF is truncated or damaged: it has no %%EOF end marker.")
        try:
            # Strict: a lenient read guesses its way past damage, silently losing content.
            reader = PdfReader(f, strict=True)
            if reader.is_encrypted:
                raise UnsupportedFileType(
                    "The PDF is encrypted; remove its password or protection and upload it again."
                )
            pages = len(reader.pages)
            if pages == 0:
                raise UnsupportedFileType("The PDF has no pages.")
            for number, page in enumerate(reader.pages, start=1):
                _check_page(page, number, problems)
        except UnsupportedFileType:
            raise
        except Exception as exc:  # pypdf raises many types for bad bytes; all are the file's fault
            raise UnsupportedFileType(f"The PDF is truncated or damaged: {_reason(exc)}.") from exc
    return Inspection(pages=pages)


def _check_page(page: PageObject, number: int, problems: list[str]) -> None:
    box = page.mediabox
    if box.width <= 0 or box.height <= 0:
        raise UnsupportedFileType(f"The PDF's page {number} has no area.")
    contents = page.get_contents()
    if contents is not None:
        contents.get_data()
    resources = page.get("/Resources")
    if resources is not None:
        for entry in resources.get_object().values():
            entry.get_object()
    if problems:
        raise UnsupportedFileType(f"The PDF is truncated or damaged: page {number}: {_reason(problems[0])}.")


def _inspect_image(path: Path, kind: FileKind) -> Inspection:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated images would pass")
    assert kind.pil_format is not None
    name = kind.name
    try:
        with Image.open(path, formats=[kind.pil_format]) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise UnsupportedFileType(
                    f"The {name} is {width} x {height} pixels, more than the {MAX_PIXELS // 1_000_000} "
                    "megapixels accepted."
                )
            if kind is FileKind.PNG:
                img.verify()  # every chunk's checksum, through to the end marker
            else:
                img.draft(None, (1, 1))  # decode at 1/8 scale: every byte is read, little is kept
                img.load()
        if kind is FileKind.PNG:
            # verify() leaves the image unusable; decoding the pixels needs a fresh open.
            with Image.open(path, formats=[kind.pil_format]) as img:
                img.load()
    except UnsupportedFileType:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedFileType(f"The {name} is too large to process safely: {_reason(exc)}.") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError … for bad bytes
        raise UnsupportedFileType(f"The {name} is truncated or damaged: {_reason(exc)}.") from exc
    return Inspection(pages=1, width=width, height=height)


_INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def safe_filename(name: str | None) -> str | None:
    """The uploader's file name, fit to keep and show as metadata (never as a storage key).

    The last path segment, NFC, without control or bidi formatting characters (``evil\\u202efdp.exe``
    would display as ``evilexe.pdf``), whitespace collapsed, no leading dots or spaces, at most
    ``MAX_FILENAME`` characters with the extension kept; ``None`` when nothing is left.
    """
    if name is None:
        return None
    name = re.split(r"[/\\]", name)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(" " if c.isspace() else c for c in name)  # a tab or line break still separates words
    name = "".join(c for c in name if unicodedata.category(c) not in _INVISIBLE)
    name = " ".join(name.split()).lstrip(". ").rstrip()
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            name = f"{stem[: MAX_FILENAME - len(extension) - 1].rstrip()}.{extension}"
        else:
            name = name[:MAX_FILENAME].rstrip()
    return name or None


def content_disposition(filename: str | None, fallback: str) -> str:
    """A ``Content-Disposition: attachment`` value naming the file safely for every client.

    An ASCII ``filename`` (accents stripped, anything else replaced) for old clients, and the full
    name in RFC 5987 ``filename*``; nothing of the name can break out of its parameter.
    """
    name = safe_filename(filename) or safe_filename(fallback) or "download"
    ascii_name = "".join(
        c if " " <= c <= "~" and c not in '"\\%' else "_"
        for c in unicodedata.normalize("NFKD", name)
        if not unicodedata.combining(c)
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
