"""Build a 20-item appeal package (PDFs, PNG and JPEG photos, text) and print how long it took and its size.

.venv/bin/python bench/package.py
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from fpdf import FPDF
from PIL import Image

from app.storage.package import Cover, PackageItem, build_package, estimate_pages

STATEMENT = "We shipped the order with DHL Express; the cardholder signed for it at the address. " * 15


def _pdf(pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for n in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Invoice page {n + 1}\n" + "Line item, quantity, price. " * 120)
    return bytes(pdf.output())


def _photo(fmt: str, seed: int) -> bytes:
    # Noise compresses like a photograph does, unlike a flat colour.
    image = Image.effect_noise((1600, 1200), 40 + seed).convert("RGB")
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return out.getvalue()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        items = []
        for n in range(1, 21):
            kind = ("pdf", "jpeg", "png", "text")[n % 4]
            if kind == "pdf":
                data = _pdf(1 + n % 3)
            elif kind == "text":
                data = b"JD014600006281234567"
            else:
                data = _photo(kind.upper(), n)
            key = None if kind == "text" else f"ev_{n}"
            if key:
                (root / key).write_bytes(data)
            content_type = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}.get(kind)
            pages = 0 if key is None else 1 + n % 3 if kind == "pdf" else 1
            items.append(PackageItem(
                number=n, evidence_id=f"ev_{n}", evidence_type="delivery_proof",
                type_label="Proof of delivery", filename=f"exhibit-{n}.{kind}" if key else None,
                content_type=content_type, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                pages=pages, description="Carrier's proof of delivery",
                text=data.decode() if key is None else None,
                facts={"Carrier": "DHL", "Delivered": "2026-11-30 14:02 UTC"}, storage_key=key,
            ))  # fmt: skip
        cover = Cover(
            case_id="cb_1", order_id="ord_1", order_label="Order #1", seller_name="Lantern Goods Ltd",
            reason_code="13.1", reason_title="Merchandise/Services Not Received",
            reason_category="not_received", network="Visa", amount="129.99 EUR", bank_reference="ARN 7423",
            received_at="2026-12-01 09:12 UTC",
            respond_by="2026-12-04 23:59 Asia/Shanghai (2026-12-04 15:59 UTC)", submitted_at="2026-12-03",
            statement=STATEMENT,
        )  # fmt: skip
        evidence = sum(p.stat().st_size for p in root.iterdir())

        def open_item(key: str) -> BinaryIO:
            return (root / key).open("rb")

        started = time.perf_counter()
        estimate = estimate_pages(len(STATEMENT), items)
        estimated = time.perf_counter() - started
        out = root / "package.pdf"
        started = time.perf_counter()
        with out.open("wb") as f:
            built = build_package(f, cover, items, open_item)
        seconds = time.perf_counter() - started
        print(
            f"20 items ({evidence / 1e6:.1f} MB of evidence): built in {seconds:.2f} s, "
            f"{built.size_bytes / 1e6:.1f} MB, {built.pages} pages "
            f"(estimated {estimate} in {estimated * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
