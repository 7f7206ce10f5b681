"""Pseudonymous expert ids for the directory, invitations and applications.

Customers choose experts by what they can do, never by who they are, so the directory shows
no names and no user ids (ids count users and tie a card to other records). A pseudonym is
the user id through a keyed permutation of 64-bit numbers (a four-round Feistel network over
HMAC-SHA256 with a key derived from SECRET_KEY, a pseudorandom permutation without the key):
stable, reversible by the server alone, and nothing to store or backfill. Changing
SECRET_KEY changes every pseudonym; invitations already sent keep working, they refer to
users.
"""

import base64
import binascii

from django.utils.crypto import salted_hmac

PREFIX = "ex_"
ROUNDS = 4
HALF = 0xFFFFFFFF


def _round(number: int, half: int) -> int:
    digest = salted_hmac("marketplace.pseudonyms", f"{number}:{half}",
                         algorithm="sha256").digest()
    return int.from_bytes(digest[:4], "big")


def encode(user_id: int) -> str:
    left, right = user_id >> 32, user_id & HALF
    for number in range(ROUNDS):
        left, right = right, left ^ _round(number, right)
    raw = ((left << 32) | right).to_bytes(8, "big")
    return PREFIX + base64.b32encode(raw).decode().rstrip("=").lower()


def decode(pseudonym: str) -> int | None:
    """The user id behind a pseudonym, or None for a string that is not one."""
    if not pseudonym.startswith(PREFIX) or len(pseudonym) != len(PREFIX) + 13:
        return None
    try:
        raw = base64.b32decode(pseudonym[len(PREFIX):].upper() + "===")
    except (binascii.Error, ValueError):
        return None
    value = int.from_bytes(raw, "big")
    left, right = value >> 32, value & HALF
    for number in reversed(range(ROUNDS)):
        left, right = right ^ _round(number, left), left
    return (left << 32) | right
