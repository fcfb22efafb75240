from __future__ import annotations

import io
import random
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image, ImageFile
from pypdf import PdfWriter

from app.domain.errors import UnsupportedFileType
from app.storage.files import (
    MAX_FILENAME,
    SNIFF_BYTES,
    FileKind,
    Inspection,
    content_disposition,
    inspect,
    safe_filename,
    sniff,
)

# Builders of real files ------------------------------------------------------------------------


def _fpdf(pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"Proof of delivery, page {n + 1}")
    return bytes(pdf.output())


def _pypdf(pages: int = 1, *, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if password is not None:
        writer.encrypt(password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _image(fmt: str, size: tuple[int, int] = (320, 200), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    rng = random.Random(7)
    img = Image.new(mode, size)
    # Noise, so the compressed data is long enough for truncation to bite in the middle of it.
    img.putdata([tuple(rng.randrange(256) for _ in mode) if len(mode) > 1 else rng.randrange(256)
                 for _ in range(size[0] * size[1])])  # fmt: skip
    img.save(out, fmt)
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header announcing a huge image, with a tiny (wrong) body: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        info = tarfile.TarInfo("invoice.pdf")
        info.size = 3
        t.addfile(info, io.BytesIO(b"abc"))
    return out.getvalue()


def _judge(tmp_path: Path, data: bytes, name: str = "upload.bin") -> tuple[FileKind, Inspection]:
    path = tmp_path / name
    path.write_bytes(data)
    kind = sniff(data[:SNIFF_BYTES])
    return kind, inspect(path, kind)


# sniff -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n", FileKind.PDF),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", FileKind.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00", FileKind.PNG),
    ],
)
def test_accepted_signature_gives_its_kind(head: bytes, kind: FileKind) -> None:
    assert sniff(head) is kind


def test_kinds_carry_content_type_and_extension() -> None:
    assert [(k.content_type, k.extension) for k in FileKind] == [
        ("application/pdf", "pdf"),
        ("image/jpeg", "jpg"),
        ("image/png", "png"),
    ]


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"", "The file is empty"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "a Windows executable"),
        (b"\x7fELF\x02\x01\x01", "an ELF executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "a Mach-O executable"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", "Mach-O universal binary or a Java class"),
        (b"#!/bin/sh\nrm -rf /\n", "a script"),
        (_zip(), "a ZIP archive (or a ZIP-based document"),
        (b"PK\x05\x06" + b"\x00" * 18, "a ZIP archive"),
        (b"Rar!\x1a\x07\x01\x00", "a RAR archive"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "a 7z archive"),
        (b"\x1f\x8b\x08\x00", "a gzip-compressed file"),
        (_tar(), "a tar archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office document"),
        (b"GIF89a\x01\x00", "a GIF image"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a WebP image"),
        (b"\x00\x00\x00\x18ftypheic", "a HEIC image"),
        (b"<!DOCTYPE html><html><body>Invoice</body></html>", "an HTML document"),
        (b"\xef\xbb\xbf  \n<html><script>alert(1)</script>", "an HTML document"),
        ("\ufeff<html>".encode("utf-16-le"), "an HTML document"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG image"),
        (b"<svg onload=alert(1)>", "an SVG image"),
        (b'<?xml version="1.0"?><invoice/>', "an XML document"),
        (b"<invoice/>", "HTML or XML markup"),
        (b"\n\n%PDF-1.7\n", "a PDF with other data in front of its %PDF- header"),
        (b"<html>" + b" " * 100 + b"%PDF-1.4", "a PDF with other data in front"),
        (b"Order 1234 delivered on 2024-03-01\n", "plain text of an unknown kind"),
        (bytes(range(256)), "binary data of an unknown kind"),
    ],
)
def test_refused_content_is_named_precisely(head: bytes, named: str) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        sniff(head)
    assert caught.value.code == "unsupported_file_type"
    assert named in caught.value.detail
    assert caught.value.detail.endswith(
        "evidence must be a PDF, JPEG or PNG (judged by its bytes, not its name or declared type)."
    )


def test_zip_named_pdf_is_refused_as_zip(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileType, match="The file's content is a ZIP archive"):
        _judge(tmp_path, _zip(), "invoice.pdf")


# inspect: what parses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: _fpdf(1), (FileKind.PDF, Inspection(pages=1))),
        (lambda: _fpdf(3), (FileKind.PDF, Inspection(pages=3))),
        (lambda: _pypdf(2), (FileKind.PDF, Inspection(pages=2))),
        (lambda: _image("JPEG"), (FileKind.JPEG, Inspection(pages=1, width=320, height=200))),
        (lambda: _image("JPEG", (64, 48), "L"), (FileKind.JPEG, Inspection(pages=1, width=64, height=48))),
        (lambda: _image("JPEG", (40, 30), "CMYK"), (FileKind.JPEG, Inspection(pages=1, width=40, height=30))),
        (lambda: _image("PNG"), (FileKind.PNG, Inspection(pages=1, width=320, height=200))),
        (lambda: _image("PNG", (5, 7), "RGBA"), (FileKind.PNG, Inspection(pages=1, width=5, height=7))),
    ],
)
def test_valid_file_is_accepted_with_its_pages_and_size(
    tmp_path: Path, build: Callable[[], bytes], expected: tuple[FileKind, Inspection]
) -> None:
    assert _judge(tmp_path, build()) == expected


# inspect: what does not -----------------------------------------------------------------------


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _tail_spliced(data: bytes) -> bytes:
    """The first half, then the original end: %%EOF present, offsets all wrong."""
    return data[: len(data) // 2] + data[-300:]


def _broken_stream(data: bytes) -> bytes:
    start = data.index(b"stream\n") + len(b"stream\n")
    return data[:start] + b"\x00garbage" + data[start + 8 :]


@pytest.mark.parametrize(
    ("build", "detail"),
    [
        (lambda: _cut(_fpdf(2)), "The PDF is truncated or damaged: it has no %%EOF end marker."),
        (lambda: _tail_spliced(_fpdf(2)), "The PDF is truncated or damaged: "),
        (lambda: _broken_stream(_fpdf()), "The PDF is truncated or damaged: page 1: "),
        (lambda: b"%PDF-1.7\n%%EOF\n", "The PDF is truncated or damaged: "),
        (lambda: _pypdf(0), "The PDF has no pages."),
        (lambda: _pypdf(1, password="secret"), "The PDF is encrypted; "),
        (lambda: _pypdf(1, password=""), "The PDF is encrypted; "),
        (lambda: _cut(_image("JPEG")), "The JPEG is truncated or damaged: "),
        (lambda: _image("JPEG")[:-2], "The JPEG is truncated or damaged: "),
        (lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 64, "The JPEG is truncated or damaged: "),
        (lambda: _cut(_image("PNG")), "The PNG is truncated or damaged: "),
        (lambda: _image("PNG")[:-12], "The PNG is truncated or damaged: "),
        (lambda: _png_claiming(8000, 7000), "The PNG is 8000 x 7000 pixels, more than the 50 megapixels"),
        (lambda: _png_claiming(10000, 10000), "The PNG is too large to process safely: "),
        (lambda: _png_claiming(20000, 20000), "The PNG is too large to process safely: "),
        (lambda: _png_claiming(64, 64), "The PNG is truncated or damaged: "),
    ],
    ids=[
        "pdf-cut",
        "pdf-tail-spliced",
        "pdf-broken-content-stream",
        "pdf-header-and-eof-only",
        "pdf-no-pages",
        "pdf-encrypted",
        "pdf-encrypted-empty-password",
        "jpeg-cut",
        "jpeg-no-end-marker",
        "jpeg-header-only",
        "png-cut",
        "png-no-iend",
        "png-over-our-limit",
        "png-over-pillow-warning-limit",
        "png-over-pillow-error-limit",
        "png-empty-pixel-data",
    ],
)
def test_damaged_or_unsafe_file_is_refused_precisely(
    tmp_path: Path, build: Callable[[], bytes], detail: str
) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        _judge(tmp_path, build())
    assert caught.value.detail.startswith(detail)


@pytest.mark.parametrize("kind", list(FileKind))
def test_random_bytes_after_a_valid_signature_are_only_ever_refused(tmp_path: Path, kind: FileKind) -> None:
    signature = {FileKind.PDF: b"%PDF-1.7\n", FileKind.JPEG: b"\xff\xd8\xff", FileKind.PNG: _image("PNG")[:8]}
    rng = random.Random(20240301)
    for i in range(40):
        tail = b"\n%%EOF\n" if kind is FileKind.PDF and i % 2 else b""
        data = signature[kind] + rng.randbytes(rng.randrange(1, 4096)) + tail
        with pytest.raises(UnsupportedFileType):
            _judge(tmp_path, data)


@pytest.mark.parametrize(
    "build", [lambda: _fpdf(2), lambda: _image("JPEG"), lambda: _image("PNG")], ids=["pdf", "jpeg", "png"]
)
def test_flipped_bytes_in_a_valid_file_give_a_verdict_never_a_crash(
    tmp_path: Path, build: Callable[[], bytes]
) -> None:
    original = build()
    rng = random.Random(42)
    refused = 0
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(16, len(data))] = rng.randrange(256)
        try:
            _judge(tmp_path, bytes(data))
        except UnsupportedFileType:
            refused += 1
    assert refused > 0


def test_pdf_page_without_area_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileType, match="page 1 has no area"):
        _judge(tmp_path, _pypdf_flat())


def _pypdf_flat() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(0, 0)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_images_are_not_judged_while_truncated_loading_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        _judge(tmp_path, _image("PNG")[:-12])


def test_truncated_images_stay_refused_after_every_import() -> None:
    import app.main  # noqa: F401  (everything the app imports, fpdf2 included, has had its say)

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# safe_filename ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, None),
        ("", None),
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\receipt.png", "receipt.png"),
        ("dir/", None),
        ("..", None),
        ("...hidden.pdf", "hidden.pdf"),
        ("  . spaced  ", "spaced"),
        ("a\x00b.pdf", "ab.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("\u2066label\u2069\u200e\u200f.pdf", "label.pdf"),
        ("line\r\nbreak\t.pdf", "line break .pdf"),
        ("para\u2028graph.pdf", "para graph.pdf"),
        ("too   many \u00a0 spaces.pdf", "too many spaces.pdf"),
        ("cafe\u0301.pdf", "caf\u00e9.pdf"),
        ("\u0000\u200b", None),
        ("Zahlungsbeleg_März.pdf", "Zahlungsbeleg_März.pdf"),
    ],
)
def test_safe_filename(name: str | None, expected: str | None) -> None:
    assert safe_filename(name) == expected


def test_long_filename_is_capped_keeping_its_extension() -> None:
    long = safe_filename("x" * 300 + ".pdf")
    assert long is not None
    assert len(long) == MAX_FILENAME
    assert long.endswith("x.pdf")
    assert safe_filename("y" * 300) == "y" * MAX_FILENAME


# content_disposition ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("invoice.pdf", "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"),
        (
            "Zahlungsbeleg März.pdf",
            "attachment; filename=\"Zahlungsbeleg Marz.pdf\"; filename*=UTF-8''Zahlungsbeleg%20M%C3%A4rz.pdf",
        ),
        ("收据.png", "attachment; filename=\"__.png\"; filename*=UTF-8''%E6%94%B6%E6%8D%AE.png"),
        (None, "attachment; filename=\"ev_1.pdf\"; filename*=UTF-8''ev_1.pdf"),
        ("\u202e", "attachment; filename=\"ev_1.pdf\"; filename*=UTF-8''ev_1.pdf"),
    ],
)
def test_content_disposition(filename: str | None, expected: str) -> None:
    assert content_disposition(filename, "ev_1.pdf") == expected


@pytest.mark.parametrize(
    "hostile",
    [
        'a"; filename=x.exe',
        'a.pdf"\r\nSet-Cookie: session=stolen',
        "a\\\"; filename*=UTF-8''x.exe",
        "100%25.pdf",
        "a\nb\rc\x00d.pdf",
    ],
)
def test_content_disposition_cannot_be_broken_out_of(hostile: str) -> None:
    value = content_disposition(hostile, "ev_1.pdf")
    assert all(" " <= c <= "~" for c in value)
    ascii_part, _, encoded = value.rpartition("; filename*=UTF-8''")
    assert ascii_part.startswith('attachment; filename="')
    assert ascii_part.count('"') == 2
    assert ascii_part.endswith('"')
    assert "\\" not in ascii_part
    assert all(c.isalnum() or c in "%-._~" for c in encoded)
