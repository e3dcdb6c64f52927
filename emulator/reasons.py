"""Error text for people: what went wrong, never where on a disk nor a signed URL.

Every stderr line or exception text that becomes a job or task ``error`` (and so a webhook
payload and, downstream, a media record shown by the API) goes through ``public_reason``.
"""

import os
import re

__all__ = ["public_reason"]

MAX_LENGTH = 300

# A URL: keep its scheme and host only (its path names storage keys, its query may carry a signature).
_URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://([^\s/?#'\"<>]*)[^\s'\"<>]*", re.IGNORECASE)
# An absolute path ("/tmp", "/work/main/x" up to a space, quote or colon); a "/" between words
# ("mp4/h264", "and/or", "16/9") is not one: a path starts the text or follows a space, quote,
# bracket, "=", ":" or ",".
_PATH = re.compile(r"(?:^|(?<=[\s'\"(\[=:,]))/(?:[^\s/:'\"]+/)*[^\s/:'\",)\]]+/?")
# ffmpeg prefixes log lines with "[demuxer @ 0x55d...]": the address means nothing to a person.
_ADDRESS = re.compile(r"\s*@\s*0x[0-9a-f]+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def public_reason(text, names: dict | None = None, roots: tuple = ()) -> str:
    """``text`` with each known path in ``names`` replaced by its word (``{source: "input"}``),
    each of ``roots`` (the data dir) and any other absolute path by ``<path>``, URLs cut to
    ``scheme://host``, ffmpeg's object addresses dropped, and the whole on one short line."""
    text = str(text)
    for path, word in sorted((names or {}).items(), key=lambda item: -len(str(item[0]))):
        if path:
            text = text.replace(str(path), word)
    for root in roots:
        if root:
            for variant in {str(root), os.path.realpath(str(root))}:
                text = re.sub(re.escape(variant.rstrip("/")) + r"[^\s:'\",)\]]*", "<path>", text)
    text = _URL.sub(lambda found: f"{found.group(1)}://{found.group(2)}", text)
    text = _PATH.sub("<path>", text)
    text = _ADDRESS.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > MAX_LENGTH:
        text = text[: MAX_LENGTH - 3].rstrip() + "..."
    return text
