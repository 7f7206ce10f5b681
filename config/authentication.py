"""API token authentication: knox's, refusing what it would fail on with a server error, and
without its bookkeeping on every request.

Knox decodes the token as UTF-8 and looks its first characters up in PostgreSQL, so a token
that is not UTF-8 raises ``UnicodeDecodeError`` and one holding a NUL a database error. Its
tokens are printable ASCII; anything else is simply an invalid token.
"""

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.signals import token_expired
from rest_framework import exceptions


class TokenAuthentication(auth.TokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        if not (token.isascii() and token.decode().isprintable()):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token) -> bool:
        """Whether the request's own token has expired (it is deleted then). Knox also reads
        every other token of the user on each request to delete the expired ones: a query
        on every API call for bookkeeping that ``accounts.jobs.delete_expired_tokens`` does
        once an hour instead."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=self.__class__, username=username, source="auth_token")
        return True


class TokenScheme(KnoxTokenScheme):
    """The schema's description of the token, as knox's."""

    target_class = "config.authentication.TokenAuthentication"
