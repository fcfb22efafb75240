from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import Destination

from app.storage import pdf_fonts
from app.storage.package import BuiltPackage, Cover, PackageItem, build_package, estimate_pages

STATEMENT = "We shipped the order with DHL; the cardholder signed for it on 30 November."
LONG_STATEMENT = (
    "We shipped the order on 28 November with DHL Express and it was delivered on 30 November, signed for "
    "by the cardholder at the billing address. The tracking history shows every scan from our warehouse in "
    "Ningbo to the buyer's door, and the carrier's proof of delivery carries the signature and a photograph "
    "of the parcel at the entrance. The buyer wrote to us two days later about the colour of the lamp.\n\n"
) * 16


def _cover(statement: str = STATEMENT) -> Cover:
    return Cover(
        case_id="cb_7Q2",
        order_id="ord_5581",
        order_label="Order #5581",
        seller_name="Lantern Goods Ltd",
        reason_code="13.1",
        reason_title="Merchandise/Services Not Received",
        reason_category="not_received",
        network="Visa",
        amount="129.99 EUR",
        bank_reference="ARN 7423 1209",
        received_at="2026-12-01 09:12 Asia/Shanghai (2026-12-01 01:12 UTC)",
        respond_by="2026-12-04 23:59 Asia/Shanghai (2026-12-04 15:59 UTC)",
        submitted_at="2026-12-03 10:00 Asia/Shanghai (2026-12-03 02:00 UTC)",
        statement=statement,
    )


def _pdf_bytes(tag: str, pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=16)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(120, 10, f"{tag} page {n}")
    return bytes(pdf.output())


def _image_bytes(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, fmt)
    return out.getvalue()


class _Case:
    """Evidence files under tmp_path and the items that index them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[PackageItem] = []

    def add(self, kind: str, *, tag: str = "", pages: int = 1, text: str | None = None) -> PackageItem:
        number = len(self.items) + 1
        facts = {"Carrier": "DHL", "Delivered": "2026-11-30 14:02 UTC"} if number % 2 else {}
        if kind == "text":
            data, content_type, key, name = (text or "JT0146").encode(), None, None, None
        else:
            content_type, ext = {"pdf": ("application/pdf", "pdf"), "png": ("image/png", "png")}.get(
                kind, ("image/jpeg", "jpg")
            )
            size = (900, 600 + 300 * (number % 3))
            data = _pdf_bytes(tag, pages) if kind == "pdf" else _image_bytes(kind, size)
            pages = pages if kind == "pdf" else 1
            key, name = f"cb_7Q2/ev_{number}", f"exhibit-{number}.{ext}"
            (self.root / "cb_7Q2").mkdir(exist_ok=True)
            (self.root / key).write_bytes(data)
        item = PackageItem(
            number=number,
            evidence_id=f"ev_{number}",
            evidence_type="delivery_proof",
            type_label="Proof of delivery",
            filename=name,
            content_type=content_type,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            pages=0 if key is None else pages,
            description=f"Exhibit description {number}",
            text=text,
            facts=facts,
            storage_key=key,
        )
        self.items.append(item)
        return item

    def open(self, key: str) -> BinaryIO:
        return (self.root / key).open("rb")

    def build(self, cover: Cover | None = None) -> tuple[BuiltPackage, bytes]:
        out = io.BytesIO()
        built = build_package(out, cover or _cover(), self.items, self.open)
        return built, out.getvalue()


def _texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _cover_pages(texts: list[str]) -> int:
    match = re.search(r"cover page 1 of (\d+)", texts[0])
    assert match is not None
    return int(match.group(1))


@pytest.fixture
def mixed(tmp_path: Path) -> _Case:
    case = _Case(tmp_path)
    case.add("pdf", tag="ALPHA", pages=2)
    case.add("png")
    case.add("text", text="Tracking JD014600006281234567")
    case.add("pdf", tag="BRAVO", pages=3)
    case.add("jpeg")
    return case


def test_mixed_evidence_cover_then_exhibits_in_index_order(mixed: _Case) -> None:
    built, data = mixed.build()
    texts = _texts(data)
    cover = _cover_pages(texts)
    assert built.pages == len(texts) == cover + 2 + 1 + 3 + 1
    exhibits = [re.sub(r"\s+", " ", t).strip() for t in texts[cover:]]
    assert exhibits[0] == "ALPHA page 1"
    assert exhibits[1] == "ALPHA page 2"
    assert exhibits[2].startswith("Exhibit 2 · Proof of delivery · sha256 " + mixed.items[1].sha256[:8])
    assert exhibits[3:6] == ["BRAVO page 1", "BRAVO page 2", "BRAVO page 3"]
    assert exhibits[6].startswith("Exhibit 5 · Proof of delivery")


def test_each_image_gets_a_page_with_the_image(mixed: _Case) -> None:
    _, data = mixed.build()
    reader = PdfReader(io.BytesIO(data))
    with_images = [n for n, page in enumerate(reader.pages) if page.images]
    cover = _cover_pages(_texts(data))
    assert with_images == [cover + 2, cover + 6]


def test_cover_holds_case_facts_statement_and_every_sha256(mixed: _Case) -> None:
    _, data = mixed.build()
    texts = _texts(data)
    text = " ".join(texts[: _cover_pages(texts)])
    for expected in (
        "Chargeback response", "ord_5581", "Order #5581", "Lantern Goods Ltd", "13.1",
        "Merchandise/Services Not Received (Visa)", "129.99 EUR", "ARN 7423 1209",
        "2026-12-04 23:59 Asia/Shanghai (2026-12-04 15:59 UTC)", STATEMENT,
        "Tracking JD014600006281234567", "(text)", "Carrier: DHL", "Exhibit description 4", "exhibit-4.pdf",
    ):  # fmt: skip
        assert expected in text
    for item in mixed.items:
        assert item.sha256 in text.replace("\n", "")


def test_outline_marks_every_exhibit_at_its_first_page(mixed: _Case) -> None:
    _, data = mixed.build()
    reader = PdfReader(io.BytesIO(data))
    cover = _cover_pages(_texts(data))
    outline = [o for o in reader.outline if isinstance(o, Destination)]
    marks = [(o.title, reader.get_destination_page_number(o)) for o in outline]
    assert marks == [
        ("Cover", 0),
        ("Exhibit 1: Proof of delivery", cover),
        ("Exhibit 2: Proof of delivery", cover + 2),
        ("Exhibit 4: Proof of delivery", cover + 3),
        ("Exhibit 5: Proof of delivery", cover + 6),
    ]


def test_returned_hash_and_size_are_of_the_bytes_written(mixed: _Case, tmp_path: Path) -> None:
    path = tmp_path / "package.pdf"
    with path.open("wb") as out:
        built = build_package(out, _cover(), mixed.items, mixed.open)
    data = path.read_bytes()
    assert built.size_bytes == len(data)
    assert built.sha256 == hashlib.sha256(data).hexdigest()
    assert len(PdfReader(path).pages) == built.pages


def test_stream_without_seek_is_spooled(mixed: _Case) -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.source = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self.source.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    def open_one_way(key: str) -> BinaryIO:
        return io.BufferedReader(OneWay((mixed.root / key).read_bytes()))

    built = build_package(io.BytesIO(), _cover(), mixed.items, open_one_way)
    assert built.pages == estimate_pages(len(STATEMENT), mixed.items)


def test_non_latin_statement_builds(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    case.add("text", text="签收人：张三")  # noqa: RUF001
    built, data = case.build(_cover("已发货，签收人：张三 ✓"))  # noqa: RUF001
    assert built.pages == len(_texts(data)) == 1


def test_without_unicode_font_unencodable_characters_become_question_marks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_fonts, "UNICODE_FONTS", ())
    pdf_fonts.load_fonts.cache_clear()
    try:
        case = _Case(tmp_path)
        case.add("png")
        statement = "已发货 “signed” – ✓"  # noqa: RUF001
        built, data = case.build(_cover(statement))
        assert "??? “signed” – ?" in _texts(data)[0]  # noqa: RUF001
        assert built.pages == estimate_pages(len(statement), case.items) == 2
    finally:
        pdf_fonts.load_fonts.cache_clear()


def test_long_statement_runs_over_several_cover_pages(tmp_path: Path) -> None:
    built, data = _Case(tmp_path).build(_cover(LONG_STATEMENT))
    texts = _texts(data)
    assert built.pages == _cover_pages(texts) >= 3
    assert "colour" in texts[-1]


def test_unprintable_content_type_is_refused(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    item = case.add("png")
    case.items[0] = dataclasses.replace(item, content_type="text/plain")
    with pytest.raises(ValueError, match="no printable type"):
        case.build()


def _sized(root: Path, count: int) -> Iterator[PackageItem]:
    case = _Case(root)
    kinds = ("pdf", "png", "text", "jpeg")
    for n in range(count):
        kind = kinds[n % 4]
        text = "JT0146 sent by DHL" if kind == "text" else None
        yield case.add(kind, tag=f"T{n}", pages=1 + n % 3, text=text)


@pytest.mark.parametrize("count", [0, 1, 5, 20, 40])
@pytest.mark.parametrize("statement", [STATEMENT, LONG_STATEMENT[:1500], LONG_STATEMENT])
def test_estimate_equals_built_page_count(tmp_path: Path, count: int, statement: str) -> None:
    items = list(_sized(tmp_path, count))
    out = io.BytesIO()
    built = build_package(out, _cover(statement), items, lambda key: (tmp_path / key).open("rb"))
    assert estimate_pages(len(statement), items) == built.pages == len(PdfReader(out).pages)


def test_estimate_follows_a_changed_index_after_a_cached_one() -> None:
    item = PackageItem(
        number=1,
        evidence_id="ev_1",
        evidence_type="buyer_communication",
        type_label="Messages with the buyer",
        filename=None,
        content_type=None,
        sha256="0" * 64,
        size_bytes=0,
        pages=0,
        description=None,
        text="short",
        facts={},
        storage_key=None,
    )
    assert estimate_pages(0, [item]) == 1
    assert estimate_pages(0, [item]) == 1  # from the cache
    longer = dataclasses.replace(item, text="a long message from the buyer. " * 400)
    assert estimate_pages(0, [longer]) > 1
