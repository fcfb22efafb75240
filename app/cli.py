"""``chargeback-desk``: serve, migrate, worker, demo, create-platform-key, outbox, openapi."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from alembic.config import Config

from alembic import command

ROOT = Path(__file__).resolve().parent.parent
DEMO_ENV = Path("var/demo.env")
DEMO_SELLER_EMAIL = "demo-seller@demo-shop.example"


def alembic_config() -> Config:
    """The migrations beside the source tree, or in the working directory (the container's /srv)."""
    base = ROOT if (ROOT / "alembic.ini").exists() else Path.cwd()
    cfg = Config(str(base / "alembic.ini"))
    cfg.set_main_option("script_location", str(base / "alembic"))
    return cfg


def migrate(_: argparse.Namespace | None = None) -> None:
    """Upgrade the database to the newest schema."""
    command.upgrade(alembic_config(), "head")


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.core.config import Settings

    settings = Settings()
    if settings.platform_api_key is None:
        logging.getLogger("chargeback_desk").warning(
            "PLATFORM_API_KEY is unset: platform operations will be refused"
        )
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,  # which server and version we run helps nobody but a scanner
        access_log=False,  # the app logs each request itself, with its request id
    )


def worker(_: argparse.Namespace) -> None:
    """Deliver the outbox and run the sweeps until SIGTERM/SIGINT."""
    from app.core.config import Settings
    from app.core.db import make_engine
    from app.core.logging import configure_logging
    from app.worker import Dispatcher

    settings = Settings()
    configure_logging(settings.log_level)
    dispatcher = Dispatcher(make_engine(settings), settings)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stop())
    try:
        dispatcher.loop()
    except KeyboardInterrupt:
        dispatcher.stop()


def outbox(args: argparse.Namespace) -> None:
    """Print the newest messages the outbox holds undelivered (no SMTP host or SMS gateway set)."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from app.core.config import Settings
    from app.core.db import make_engine
    from app.models.outbox import OutboxMessage

    q = select(OutboxMessage).where(col(OutboxMessage.status).in_(("held", "pending")))
    if args.to:
        q = q.where(col(OutboxMessage.recipient) == args.to)
    engine = make_engine(Settings())
    with Session(engine) as session:
        rows = list(
            session.execute(q.order_by(col(OutboxMessage.created_at).desc()).limit(args.limit)).scalars()
        )
    engine.dispose()
    for msg in reversed(rows):
        print(
            f"--- {msg.channel} to {msg.recipient} at {msg.created_at:%Y-%m-%d %H:%M:%S} UTC ({msg.status})"
        )
        if msg.subject:
            print(f"Subject: {msg.subject}")
        print(msg.body.rstrip() + "\n")


def openapi_document() -> str:
    """The OpenAPI document as served, as the committed ``openapi.json`` holds it.

    Built from an app that never opens its database, with fixed settings, so it depends on the code
    alone and not on the environment.
    """
    import json
    import tempfile

    from pydantic import SecretStr

    from app.core.config import Settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite:///{tmp}/unused.db",
            evidence_storage_url=f"file://{tmp}/evidence",
            secret_key=SecretStr("openapi-document-only"),
            dispatch_in_process=False,
        )
        app = create_app(settings)
        try:
            return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
        finally:
            app.state.db.close()


def openapi(_: argparse.Namespace) -> None:
    """Print the OpenAPI document (``chargeback-desk openapi > openapi.json`` refreshes the snapshot)."""
    sys.stdout.write(openapi_document())


def create_platform_key(_: argparse.Namespace) -> None:
    print("pk_" + secrets.token_urlsafe(32))


def _demo_seller() -> tuple[str, str]:
    """Create (once) the demo seller; give it a fresh API key each run. Returns (seller_id, key)."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from app.core.config import Settings
    from app.core.db import make_engine
    from app.models.seller import ApiKeyCreate, Seller, SellerCreate
    from app.services import sellers

    settings = Settings()
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        seller_id = session.execute(
            select(col(Seller.id)).where(col(Seller.email) == DEMO_SELLER_EMAIL)
        ).scalar()
        if seller_id is None:
            data = SellerCreate(
                name="Demo Shop", email=DEMO_SELLER_EMAIL, country="CN", timezone="Asia/Shanghai"
            )
            seller_id = sellers.create_seller(session, settings, data)["id"]
        key = sellers.create_api_key(session, seller_id, ApiKeyCreate(name="demo"))["key"]
    engine.dispose()
    assert key is not None  # a fresh key, not a replay
    return seller_id, key


SAMPLE_POD = Path("var/sample-proof-of-delivery.pdf")


def _sample_evidence() -> Path:
    """A one-page proof of delivery to upload in the README's walkthrough."""
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", "B", 18)
    doc.cell(text="Proof of delivery (sample)", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=12)
    for line in (
        "Carrier: DHL Express",
        "Tracking number: JD014600006281234567",
        "Delivered: 2026-11-28 14:02, signed for by M. Muster",
        "Address: Hauptstr. 5, 10115 Berlin, DE",
    ):
        doc.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    SAMPLE_POD.parent.mkdir(parents=True, exist_ok=True)
    doc.output(str(SAMPLE_POD))
    return SAMPLE_POD


def demo(args: argparse.Namespace) -> None:
    """Migrate, create a demo seller and keys, print them, and serve (127.0.0.1:8000 by default)."""
    os.environ.setdefault("PLATFORM_API_KEY", "pk_" + secrets.token_urlsafe(32))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    # A local demo's webhook receiver listens on loopback.
    os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_URLS", "true")
    base = f"http://{args.host}:{args.port}"
    # Download and activation links must point at this server, whatever port it was given.
    os.environ.setdefault("PUBLIC_BASE_URL", base)
    migrate()
    seller_id, seller_key = _demo_seller()
    lines = [
        f"export BASE={base}",
        f"export PLATFORM_KEY={os.environ['PLATFORM_API_KEY']}",
        f"export SELLER_ID={seller_id}",
        f"export SELLER_KEY={seller_key}",
        f"export SAMPLE_POD={_sample_evidence()}",
    ]
    DEMO_ENV.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ENV.write_text("\n".join(lines) + "\n")
    DEMO_ENV.chmod(0o600)
    bar = "=" * 72
    print(
        f"\n{bar}\nChargeback Desk demo: {base}  (docs: {base}/docs)\n\n"
        + "\n".join(lines)
        + f"\n\nThese lines are also in {DEMO_ENV} (source it in another terminal).\n{bar}\n",
        flush=True,
    )
    serve(args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chargeback-desk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, helptext in (
        ("serve", serve, "serve the API (uvicorn)"),
        ("demo", demo, "migrate, create a demo seller and keys, and serve"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        p.add_argument("--workers", type=int, default=1)
        p.add_argument(
            "--no-access-log", action="store_true", help="accepted for compatibility; see LOG_LEVEL"
        )
        p.set_defaults(func=func)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(func=migrate)
    sub.add_parser("worker", help="deliver notifications and run sweeps").set_defaults(func=worker)
    sub.add_parser("create-platform-key", help="print a new random platform key").set_defaults(
        func=create_platform_key
    )
    sub.add_parser("openapi", help="print the OpenAPI document (JSON)").set_defaults(func=openapi)
    p = sub.add_parser("outbox", help="print undelivered messages (local use without SMTP or SMS gateway)")
    p.add_argument("--to", help="only messages to this email address or phone number (E.164)")
    p.add_argument("--limit", type=int, default=5)
    p.set_defaults(func=outbox)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
