"""CSRF protection for forms. Every form that changes state carries
``<input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">``."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from healthgate.identity.sessions import COOKIE


def csrf_token(request: Request) -> str:
    """A token bound to the browser's session cookie (verification: see the CSRF middleware)."""
    key = request.app.state.settings.effective_secret_key().encode()
    bound = request.cookies.get(COOKIE) or ""
    return hmac.new(key, b"csrf:" + bound.encode(), hashlib.sha256).hexdigest()
