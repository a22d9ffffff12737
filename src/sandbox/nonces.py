"""Message nonces as Discord keeps them: for a few minutes, per author and channel, never on the message."""

from __future__ import annotations

from src.types.ports import Clock

# Discord documents "the past few minutes". Five minutes of the sandbox clock, not divided by --time-scale:
# it is no rate-limit window, and a client retrying a send must find its message whatever the scale.
NONCE_WINDOW = 300.0

NonceKey = tuple[int, int, str]  # (author id, channel id, the nonce as text)


class NonceRegistry:
    """Remembers which message each recent nonce created, so `enforce_nonce` can return it again."""

    def __init__(self, clock: Clock, window: float = NONCE_WINDOW) -> None:
        self._clock = clock
        self._window = window
        # Insertion order is creation order, so the expired entries are always at the front.
        self._seen: dict[NonceKey, tuple[int, float]] = {}

    def find(self, author_id: int, channel_id: int, nonce: str | int) -> int | None:
        """Return the id of the message `author_id` created with `nonce` in the channel recently, if any."""
        self._forget_expired()
        found = self._seen.get(_key(author_id, channel_id, nonce))
        return None if found is None else found[0]

    def remember(self, author_id: int, channel_id: int, nonce: str | int, message_id: int) -> None:
        """Record that `author_id` created `message_id` with `nonce` in the channel just now."""
        self._forget_expired()
        key = _key(author_id, channel_id, nonce)
        self._seen.pop(key, None)  # re-inserted at the end, where the newest entries belong
        self._seen[key] = (message_id, self._clock.monotonic())

    def __len__(self) -> int:
        """How many nonces are still remembered."""
        self._forget_expired()
        return len(self._seen)

    def _forget_expired(self) -> None:
        """Drop nonces older than the window."""
        horizon = self._clock.monotonic() - self._window
        while self._seen:
            key, (_, created) = next(iter(self._seen.items()))
            if created > horizon:
                return
            del self._seen[key]


def _key(author_id: int, channel_id: int, nonce: str | int) -> NonceKey:
    """The lookup key; nonces compare as text (Discord does not say whether 123 and "123" differ)."""
    return (author_id, channel_id, str(nonce))
