"""The copy of an HLS ladder split into bounded queue messages (pure).

A two-hour film is thousands of segments; one queue invocation may make only so many
subrequests (Workers Free: 50 per invocation; Paid: 1,000 in older docs, 10,000 in newer
ones) and run 15 minutes of wall time, and one invocation gets a whole batch of messages
(`max_batch_size = 10`). So the plan step (one message: fetch the master and variant
playlists, store them) sends `hls.copy` messages of at most `per_message` segments each; each
segment costs two subrequests (the fetch from Ittybit and the R2 put), a message about
`2 * per_message + 4` (D1 and the queue), a batch ten times that: 20 segments per message is
at most 440 per invocation. On the Free plan set `max_batch_size = 1` (44 per invocation).

Each message carries its chunk's paths (short: `720p/segment-123.ts`), so no message needs
to read anything back; 20 paths are well under the 128 KB message limit. A chunk's number is
its place in the plan, so a message delivered twice records the same chunk, and the ladder is
complete when every chunk number 0 .. n-1 is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.messages import COPY_MESSAGE_TYPE, MAX_COPY_PATHS

__all__ = [
    "DEFAULT_SEGMENTS_PER_MESSAGE",
    "MAX_MESSAGES_PER_SEND",
    "MAX_SEGMENTS_PER_MESSAGE",
    "Chunk",
    "copy_message",
    "plan_chunks",
    "send_groups",
]

DEFAULT_SEGMENTS_PER_MESSAGE = 20
# The message's parser (common.messages.parse_message) takes no more paths than this.
MAX_SEGMENTS_PER_MESSAGE = MAX_COPY_PATHS
# Queues: at most 100 messages (and 256 KB) per sendBatch.
MAX_MESSAGES_PER_SEND = 100


@dataclass(frozen=True)
class Chunk:
    index: int
    paths: tuple[str, ...]


def plan_chunks(paths: Sequence[str], per_message: int = DEFAULT_SEGMENTS_PER_MESSAGE) -> list[Chunk]:
    """The ladder's files (each once, in order) cut into chunks of at most `per_message`."""
    if not 1 <= per_message <= MAX_SEGMENTS_PER_MESSAGE:
        raise ValueError(f"segments per message must be 1 to {MAX_SEGMENTS_PER_MESSAGE}")
    unique = list(dict.fromkeys(paths))
    return [Chunk(i // per_message, tuple(unique[i:i + per_message])) for i in range(0, len(unique), per_message)]


def copy_message(media_id: str, rendition: str, job_id: str, base_url: str, chunk: Chunk, chunks: int) -> dict:
    """The JSON-ready `hls.copy` body: copy these ladder paths from below `base_url`."""
    return {
        "type": COPY_MESSAGE_TYPE,
        "media_id": media_id,
        "rendition": rendition,
        "job_id": job_id,
        "base_url": base_url,
        "chunk": chunk.index,
        "chunks": chunks,
        "paths": list(chunk.paths),
    }


def send_groups(messages: Sequence[dict], size: int = MAX_MESSAGES_PER_SEND) -> list[list[dict]]:
    """Messages in groups one sendBatch takes."""
    return [list(messages[i:i + size]) for i in range(0, len(messages), size)]
