"""``npgpt serve``: chat with a checkpoint in the browser and see inside it while it answers.

``session.py`` runs the model (KV-cache generation that reports each token's probability and
top alternatives, and the attention of one step); ``server.py`` is the HTTP side (standard
library only); ``static/`` holds the page (plain HTML, CSS and JavaScript, no build step, no
network). ``load_session(checkpoint)`` + ``Server(session, host, port)`` is what the command runs.
"""

from __future__ import annotations

from ..chat.model import load_policy
from .server import Server
from .session import RequestError, Session, Settings, parse_settings

__all__ = ["RequestError", "Server", "Session", "Settings", "load_session", "parse_settings"]


def load_session(checkpoint, device="cpu", max_tokens=None) -> Session:
    """A ``Session`` on the model of a checkpoint folder (a chat page if it has the chat tokens)."""
    model, tok, ck = load_policy(checkpoint)
    model.to(device)
    return Session(model, tok, str(ck["path"]), max_tokens=max_tokens)
