"""The appeal package: one PDF a card issuer reads, a cover then every exhibit in index order.

The cover (fpdf2) holds the case facts, the seller's statement and the evidence index with each item's
SHA-256; text-only evidence lives there only. PDF evidence is appended page for page (pypdf), each image
gets a page of its own with a one-line caption, and every exhibit gets an outline entry.

Fonts (``pdf_fonts``): fpdf2's core fonts encode Latin-1 only, and statements arrive in any script. The
cover uses the first Unicode TTF found at a few well-known paths (DejaVu, Noto, Liberation), with any CJK
font found as a fallback; a character no loaded font has becomes "?" in the PDF, never in the stored text.
Without any TTF it falls back to Helvetica (Windows-1252) under the same rule. Image captions are ours and
always in Helvetica: embedding a TTF subset per image page is slow. Font files are not
shipped: the machine provides them (Debian: fonts-dejavu-core).

Page estimate: the cover is laid out as lines of fixed height and paginated by our own rule (an index
entry is never split unless it is taller than a page), so the same plan computed from the items and the
statement's length gives the page count before anything is read. The statement is given at least
``ceil(chars / chars_per_line)`` lines, with a narrow line measured on the font in use, and a shorter
statement is followed by blank space; so the estimate equals the built count unless the statement wraps
into more lines than that (many short paragraphs, wide scripts such as CJK).
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from fpdf import FPDF
from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter

from app.storage.pdf_fonts import MARGIN, Fonts, fonts_for, load_fonts

PAGE_W, PAGE_H = 210.0, 297.0
CONTENT_W = PAGE_W - 2 * MARGIN
TOP, BOTTOM = MARGIN, PAGE_H - MARGIN - 8  # room for the footer line
CAPTION_H = 8.0
PARAGRAPH_CHARS = 300
SPOOL_BYTES = 16 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})

# A typical English sentence: the statement's chars-per-line is measured on it, with 20 % to spare.
_SAMPLE = "The parcel was delivered to the cardholder's address and signed for; tracking shows the handover."


@dataclass(frozen=True, slots=True)
class PackageItem:
    number: int
    evidence_id: str
    evidence_type: str
    type_label: str
    filename: str | None
    content_type: str | None
    sha256: str
    size_bytes: int
    pages: int
    description: str | None
    text: str | None
    facts: Mapping[str, str]
    storage_key: str | None


@dataclass(frozen=True, slots=True)
class Cover:
    case_id: str
    order_id: str
    order_label: str
    seller_name: str
    reason_code: str
    reason_title: str
    reason_category: str
    network: str | None
    amount: str
    bank_reference: str
    received_at: str
    respond_by: str
    submitted_at: str
    statement: str


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    pages: int
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class _Run:
    x: float
    w: float
    style: str  # "" regular, "B" bold, "M" monospace
    size: float
    text: str
    align: str = "L"


@dataclass(frozen=True, slots=True)
class _Line:
    height: float
    runs: tuple[_Run, ...] = ()
    rule: bool = False


_Block = tuple[int, list[_Line]]  # the first n lines are kept on one page


def _item_texts(items: Sequence[PackageItem]) -> list[str]:
    texts = [t for i in items for t in (i.type_label, i.filename, i.description, i.text) if t]
    return texts + [f"{k}: {v}" for i in items for k, v in i.facts.items()]


def _chars_per_line(fonts: Fonts, pdf: FPDF) -> int:
    fonts.set(pdf, "", 10)
    return max(20, int(CONTENT_W / (pdf.get_string_width(_SAMPLE) / len(_SAMPLE) * 1.2)))


def _statement_lines(chars: int, per_line: int) -> int:
    # Each paragraph ends in a part line and most are followed by a blank one: one more line per 300 chars.
    return max(1, math.ceil(chars / per_line) + math.ceil(chars / PARAGRAPH_CHARS))


def _row(height: float, runs: Sequence[_Run], rule: bool = False) -> _Line:
    return _Line(height, tuple(runs), rule)


def _cover_blocks(
    fonts: Fonts, pdf: FPDF, cover: Cover | None, statement: int | list[str], items: Sequence[PackageItem]
) -> list[_Block]:
    """The cover as blocks of lines; without a ``cover`` the case facts are blank (for the estimate)."""
    facts: list[tuple[str, str]] = []
    if cover is not None:
        network = f" ({cover.network})" if cover.network else ""
        facts = [
            ("Order", cover.order_label), ("Order ID", cover.order_id), ("Case", cover.case_id),
            ("Seller", cover.seller_name), ("Reason", f"{cover.reason_code} {cover.reason_title}{network}"),
            ("Category", cover.reason_category), ("Amount", cover.amount),
            ("Bank reference", cover.bank_reference), ("Received", cover.received_at),
            ("Respond by", cover.respond_by), ("Submitted", cover.submitted_at),
        ]  # fmt: skip
    else:
        facts = [("", "")] * 11
    head = [_row(12, [_Run(0, CONTENT_W, "B", 18, "Chargeback response")]), _Line(2)]
    for label, value in facts:
        head.append(_row(6, [
            _Run(0, 35, "B", 9, label), _Run(35, CONTENT_W - 35, "", 10, fonts.fit(pdf, "", 10, 145, value)),
        ]))  # fmt: skip
    blocks: list[_Block] = [(len(head), head)]

    if isinstance(statement, int):
        statement = [""] * statement
    body = [_row(5, [_Run(0, CONTENT_W, "", 10, line)]) for line in statement]
    blocks.append((3, [_Line(5), _row(8, [_Run(0, CONTENT_W, "B", 12, "Seller's statement")]), *body]))

    index_head = [
        _Line(5), _row(8, [_Run(0, CONTENT_W, "B", 12, "Evidence index")]),
        _row(6, [_Run(0, 10, "B", 9, "No."), _Run(10, 60, "B", 9, "Type"), _Run(70, 85, "B", 9, "File"),
                 _Run(155, 25, "B", 9, "Pages", "R")], rule=True),
    ]  # fmt: skip
    if not items:
        index_head.append(_row(6, [_Run(0, CONTENT_W, "", 9, "No evidence was attached.")]))
        blocks.append((len(index_head), index_head))
    for n, item in enumerate(items):
        lines = index_head if n == 0 else []
        lines.append(_Line(1.5))
        type_lines = fonts.wrap(pdf, "", 9, 60, item.type_label)
        file_lines = fonts.wrap(pdf, "", 9, 85, item.filename or "(text)")
        pages = str(item.pages) if item.storage_key is not None else "on cover"
        for r in range(max(len(type_lines), len(file_lines))):
            lines.append(_row(4.5, [
                _Run(0, 10, "B", 9, str(item.number) if r == 0 else ""),
                _Run(10, 60, "", 9, type_lines[r] if r < len(type_lines) else ""),
                _Run(70, 85, "", 9, file_lines[r] if r < len(file_lines) else ""),
                _Run(155, 25, "", 9, pages if r == 0 else "", "R"),
            ]))  # fmt: skip
        lines.append(_row(4, [_Run(10, 170, "M", 7, f"SHA-256 {item.sha256}")]))
        notes = [item.description or ""] + [f"{k}: {v}" for k, v in item.facts.items()]
        notes.append(f"Text: {item.text}" if item.text else "")
        for note in filter(None, notes):
            lines += [_row(4.2, [_Run(10, 170, "", 8.5, s)]) for s in fonts.wrap(pdf, "", 8.5, 170, note)]
        lines[-1] = _Line(lines[-1].height, lines[-1].runs, rule=True)
        blocks.append((len(lines), lines))
    return blocks


def _paginate(blocks: Sequence[_Block]) -> list[list[tuple[float, _Line]]]:
    pages: list[list[tuple[float, _Line]]] = [[]]
    y = TOP
    for keep, lines in blocks:
        together = sum(line.height for line in lines[:keep])
        if pages[-1] and y + together > BOTTOM and together <= BOTTOM - TOP:
            pages.append([])
            y = TOP
        for line in lines:
            if pages[-1] and y + line.height > BOTTOM:
                pages.append([])
                y = TOP
            pages[-1].append((y, line))
            y += line.height
    return pages


def estimate_pages(cover_statement_chars: int, items: Sequence[PackageItem]) -> int:
    """The package's page count from ``len(statement)`` and the index, without reading any evidence."""
    key = (cover_statement_chars, tuple(_layout_key(i) for i in items))
    cover_pages = _ESTIMATES.get(key)
    if cover_pages is None:
        # Measuring text is slow (tens of ms for a full index) and a case's evidence rarely changes.
        fonts = fonts_for(_item_texts(items))
        lock, pdf = fonts.measurer
        with lock:
            lines = _statement_lines(cover_statement_chars, _chars_per_line(fonts, pdf))
            cover_pages = len(_paginate(_cover_blocks(fonts, pdf, None, lines, items)))
        if len(_ESTIMATES) >= _ESTIMATES_KEPT:
            _ESTIMATES.clear()
        _ESTIMATES[key] = cover_pages
    return cover_pages + sum(i.pages for i in items if i.storage_key is not None)


_ESTIMATES: dict[tuple[object, ...], int] = {}
_ESTIMATES_KEPT = 4096


def _layout_key(item: PackageItem) -> tuple[object, ...]:
    """Everything of an item that the cover's index prints."""
    return (
        item.number,
        item.type_label,
        item.filename,
        item.sha256,
        item.pages,
        item.description,
        item.text,
        tuple(item.facts.items()),
        item.storage_key is None,
    )


def _render_cover(fonts: Fonts, cover: Cover, items: Sequence[PackageItem]) -> bytes:
    pdf = fonts.pdf()
    pdf.add_page()
    text = re.sub(r"\n\s*\n\s*", "\n\n", cover.statement.replace("\r\n", "\n").strip())
    statement = fonts.wrap(pdf, "", 10, CONTENT_W, text or "(no statement)")
    reserved = _statement_lines(len(cover.statement), _chars_per_line(fonts, pdf))
    statement += [""] * (reserved - len(statement))
    pages = _paginate(_cover_blocks(fonts, pdf, cover, statement, items))
    for number, page in enumerate(pages, 1):
        if number > 1:
            pdf.add_page()
        for y, line in page:
            for run in line.runs:
                fonts.set(pdf, run.style, run.size)
                pdf.set_xy(MARGIN + run.x, y)
                pdf.cell(run.w, line.height, run.text, align=run.align)
            if line.rule:
                pdf.set_draw_color(190)
                pdf.line(MARGIN, y + line.height, MARGIN + CONTENT_W, y + line.height)
        fonts.set(pdf, "", 8)
        pdf.set_xy(MARGIN, PAGE_H - MARGIN - 5)
        footer = fonts.clean(f"Case {cover.case_id} · cover page {number} of {len(pages)}")
        pdf.cell(CONTENT_W, 5, footer, align="C")
    return bytes(pdf.output())


def _image_page(item: PackageItem, data: io.BytesIO) -> bytes:
    fonts = load_fonts(False, core_only=True)  # the caption is ours, in Latin; a TTF per image is slow
    pdf = fonts.pdf()
    pdf.add_page()
    with Image.open(data) as probe:
        width, height = probe.size
        source: io.BytesIO | Image.Image = data
        if probe.getexif().get(0x0112, 1) != 1:  # a phone photo taken sideways: turn it as viewers do
            source = ImageOps.exif_transpose(probe)
            width, height = source.size
    data.seek(0)
    frame_h = BOTTOM - TOP + 8 - CAPTION_H
    scale = min(CONTENT_W / width, frame_h / height)
    w, h = width * scale, height * scale
    pdf.image(source, x=MARGIN + (CONTENT_W - w) / 2, y=TOP, w=w, h=h)
    fonts.set(pdf, "", 9)
    pdf.set_xy(MARGIN, TOP + frame_h + 2)
    caption = fonts.clean(f"Exhibit {item.number} · {item.type_label} · sha256 {item.sha256[:8]}…")
    pdf.cell(CONTENT_W, 5, fonts.fit(pdf, "", 9, CONTENT_W, caption), align="C")
    return bytes(pdf.output())


def _seekable(stream: BinaryIO) -> BinaryIO:
    """pypdf seeks; an S3 body does not, so it is spooled (in memory while small, then to disk)."""
    if stream.seekable():
        return stream
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - the caller closes it
    while chunk := stream.read(1024 * 1024):
        spool.write(chunk)
    spool.seek(0)
    return spool  # type: ignore[return-value]


class _HashingWriter:
    """Passes writes through to ``out`` while hashing and counting them; ``tell`` is relative to the start."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.size, self.hash = out, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()


def build_package(out: BinaryIO, cover: Cover, items: Sequence[PackageItem],
                  open_item: Callable[[str], BinaryIO]) -> BuiltPackage:  # fmt: skip
    """Write the package to ``out``; evidence is opened one item at a time through ``open_item``."""
    fonts = fonts_for([cover.statement, cover.order_label, cover.seller_name, *_item_texts(items)])
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_render_cover(fonts, cover, items))))
    writer.add_outline_item(title="Cover", page_number=0)
    for item in items:
        if item.storage_key is None:
            continue
        first = len(writer.pages)
        with open_item(item.storage_key) as raw:
            if item.content_type == "application/pdf":
                with _seekable(raw) as source:
                    writer.append(PdfReader(source), import_outline=False)
            elif item.content_type in IMAGE_TYPES:
                page = _image_page(item, io.BytesIO(raw.read()))
                writer.append(PdfReader(io.BytesIO(page)))
            else:
                raise ValueError(f"evidence {item.evidence_id} has no printable type ({item.content_type!r})")
        writer.add_outline_item(title=f"Exhibit {item.number}: {item.type_label}", page_number=first)
    sink = _HashingWriter(out)
    writer.write(sink)  # type: ignore[arg-type]
    return BuiltPackage(pages=len(writer.pages), size_bytes=sink.size, sha256=sink.hash.hexdigest())
