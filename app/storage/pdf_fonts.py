"""Fonts for the PDFs we generate: a Unicode TTF when the machine has one, Helvetica otherwise.

fpdf2's core fonts encode one byte per character, and statements arrive in any script. We use the first
Unicode TTF found at a few well-known paths (DejaVu, Noto, Liberation), adding any CJK font found as a
fallback when the text needs one; a character no loaded font has becomes "?" in the PDF, never in the
stored text. Without any TTF we fall back to Helvetica in Windows-1252 (the PDF's WinAnsiEncoding, which
has curly quotes and dashes) under the same rule. Font files are not shipped: the machine provides them
(Debian: fonts-dejavu-core).
"""

from __future__ import annotations

import copy
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import TTFFont

MARGIN = 15.0

# Regular and bold faces; the first pair whose regular face exists wins.
UNICODE_FONTS: tuple[tuple[str, str], ...] = tuple(
    (f"/usr/share/fonts/{regular}", f"/usr/share/fonts/{bold}")
    for regular, bold in (
        ("truetype/dejavu/DejaVuSans.ttf", "truetype/dejavu/DejaVuSans-Bold.ttf"),  # Debian, Ubuntu
        ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"),  # Fedora, Alpine
        ("TTF/DejaVuSans.ttf", "TTF/DejaVuSans-Bold.ttf"),  # Arch
        ("truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf"),
        ("noto/NotoSans-Regular.ttf", "noto/NotoSans-Bold.ttf"),
        ("truetype/liberation/LiberationSans-Regular.ttf", "truetype/liberation/LiberationSans-Bold.ttf"),
    )
)
FALLBACK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)


@dataclass(frozen=True)
class Fonts:
    """A loaded font set; ``template`` has the fonts and no page, and is only ever deep-copied."""

    template: FPDF
    family: str
    cmaps: tuple[frozenset[int], ...]  # empty when on core fonts

    @cached_property
    def measurer(self) -> tuple[threading.Lock, FPDF]:
        """A page to measure text on for estimates, one caller at a time."""
        pdf = self.pdf()
        pdf.add_page()
        return threading.Lock(), pdf

    def pdf(self) -> FPDF:
        pdf: FPDF = copy.deepcopy(self.template)
        _own_font_files(pdf)
        return pdf

    def clean(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\t", " ")
        text = "".join(c if c == "\n" or c.isprintable() else " " for c in text)
        if not self.cmaps:
            return text.encode("cp1252", "replace").decode("cp1252")
        return "".join(c if c == "\n" or any(ord(c) in m for m in self.cmaps) else "?" for c in text)

    def set(self, pdf: FPDF, style: str, size: float) -> None:
        if style == "M":
            pdf.set_font("Courier", "", size)
        else:
            pdf.set_font(self.family, style, size)

    def wrap(self, pdf: FPDF, style: str, size: float, width: float, text: str) -> list[str]:
        self.set(pdf, style, size)
        lines = pdf.multi_cell(width, 5, self.clean(text), dry_run=True, output="LINES")
        if not isinstance(lines, list) or not lines:
            return [""]
        # fpdf2 hands back core-font lines already encoded (as Latin-1 text); cell() would encode them again
        return lines if self.cmaps else [line.encode("latin-1").decode("cp1252") for line in lines]

    def fit(self, pdf: FPDF, style: str, size: float, width: float, text: str) -> str:
        lines = self.wrap(pdf, style, size, width, text)
        if len(lines) == 1:
            return lines[0]
        return self.wrap(pdf, style, size, width - pdf.get_string_width("…") - 1, text)[0].rstrip() + "…"


@lru_cache(maxsize=8)
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def _own_font_files(pdf: FPDF) -> None:
    """Give each TTF its own parsed font: fpdf2 subsets it in place on output, and deep copies share it."""
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.ttfont.close()  # fpdf2 opens the file lazily; read from memory, nothing is left open
            data = io.BytesIO(_font_bytes(str(font.ttffile)))
            number = font.collection_font_number
            font.ttfont = TTFont(data, recalcTimestamp=False, fontNumber=number, lazy=True)


def _cmap(pdf: FPDF, key: str) -> frozenset[int]:
    font = pdf.fonts[key]
    return frozenset(font.cmap) if isinstance(font, TTFFont) else frozenset()


@lru_cache(maxsize=3)
def load_fonts(with_fallback: bool, core_only: bool = False) -> Fonts:
    template = FPDF(unit="mm", format="A4")
    template.core_fonts_encoding = "windows-1252"  # what the PDF declares; it has the curly quotes and dashes
    template.set_auto_page_break(False)
    template.set_margins(MARGIN, MARGIN, MARGIN)
    found = next(((r, b) for r, b in UNICODE_FONTS if Path(r).is_file()), None)
    if found is None or core_only:
        return Fonts(template, "Helvetica", ())
    regular, bold = found
    template.add_font("cbd", "", regular)
    template.add_font("cbd", "B", bold if Path(bold).is_file() else regular)
    cmaps = [_cmap(template, "cbd")]
    if with_fallback:
        names = []
        for i, path in enumerate(p for p in FALLBACK_FONTS if Path(p).is_file()):
            template.add_font(f"fb{i}", "", path)
            cmaps.append(_cmap(template, f"fb{i}"))
            names.append(f"fb{i}")
        template.set_fallback_fonts(names, exact_match=False)
    _own_font_files(template)
    return Fonts(template, "cbd", tuple(cmaps))


def fonts_for(texts: Sequence[str]) -> Fonts:
    base = load_fonts(False)
    if base.cmaps and any(c != "\n" and ord(c) not in base.cmaps[0] for t in texts for c in t):
        return load_fonts(True)
    return base
