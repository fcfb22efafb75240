"""Real sample files for evidence tests: PDFs with known text per page, PNG and JPEG images."""

from __future__ import annotations

import io

from fpdf import FPDF
from PIL import Image


def pdf(pages: int = 1, label: str = "exhibit") -> bytes:
    """A valid PDF whose page ``n`` says ``{label} page {n}``."""
    doc = FPDF()
    doc.set_font("Helvetica", size=14)
    for n in range(1, pages + 1):
        doc.add_page()
        doc.cell(text=f"{label} page {n}")
    return bytes(doc.output())


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="JPEG", quality=85)
    return out.getvalue()


ZIP = b"PK\x03\x04" + bytes(60)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
