"""Image references: which registry an image lives on. Pure."""

from __future__ import annotations


def registry_of(image: str) -> str | None:
    """The registry host of an image reference, by Docker's rule: the first path component
    is a host if it has a '.' or ':' or is 'localhost'; otherwise the image is on Docker Hub."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None
