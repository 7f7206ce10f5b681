"""API token authentication: knox's, refusing what it would fail on with a server error.

Knox decodes the token as UTF-8 and looks its first characters up in PostgreSQL, so a token
that is not UTF-8 raises ``UnicodeDecodeError`` and one holding a NUL a database error. Its
tokens are printable ASCII; anything else is simply an invalid token.
"""

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from rest_framework import exceptions


class TokenAuthentication(auth.TokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        if not (token.isascii() and token.decode().isprintable()):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """The schema's description of the token, as knox's."""

    target_class = "config.authentication.TokenAuthentication"
