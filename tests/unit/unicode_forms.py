"""Helpers that spell test strings in other Unicode forms without pasting look-alike characters."""

from __future__ import annotations


def wide(text: str) -> str:
    """The full-width form of printable ASCII (what NFKC folds back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
