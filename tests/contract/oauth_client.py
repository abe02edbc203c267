#!/usr/bin/env python3
"""gongkai's token endpoint as a standard OAuth2 client library uses it (issue 14).

With authlib's OAuth2Session (requests): fetch a token with the password grant (form-encoded,
as the library sends it), call GET /api/v1/me with it, refresh it, check that the old refresh
token is refused on reuse (invalid_grant), and log out (RFC 7009 revocation, as the library
sends it).

Environment:
  GONGKAI_BASE_URL        e.g. http://127.0.0.1:8080
  GONGKAI_ADMIN_USER      a user that may log in (e.g. admin)
  GONGKAI_ADMIN_PASSWORD  its password

Exits 0 when every step behaves; otherwise prints what failed and exits 1 (2 for a missing
setting or library).

Note: the reuse check ends the login it belongs to (that is what a reused refresh token does),
so the script logs in twice: one login to refresh and reuse, another to log out. It sends no
wrong password: failed logins from one address are throttled (auth.login_max_failures), and
other checks run from the same address.
"""

import os
import sys

try:
    import requests
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.integrations.base_client.errors import OAuthError
except ImportError as e:  # pragma: no cover - the runner installs requirements.txt
    print(f"oauth_client: missing library ({e}); pip install -r tests/contract/requirements.txt",
          file=sys.stderr)
    sys.exit(2)

# A public client: gongkai has no registered client for the password grant, and ignores a bare
# client_id there (authlib sends it in the body with token_endpoint_auth_method "none").
CLIENT_ID = "gongkai-contract-test"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def setting(name):
    value = os.environ.get(name, "").strip()
    if not value:
        print(f"oauth_client: set {name}", file=sys.stderr)
        sys.exit(2)
    return value


def new_session(token_url, token=None):
    # The library's defaults: no client secret, so "none" client authentication; bodies
    # form-encoded.
    return OAuth2Session(client_id=CLIENT_ID, token=token, token_endpoint=token_url, timeout=30)


def login(token_url, user, password):
    session = new_session(token_url)
    token = session.fetch_token(token_url, grant_type="password", username=user,
                                password=password)
    check(token.get("token_type", "").lower() == "bearer",
          f"token_type is Bearer: {token.get('token_type')!r}")
    check(token.get("access_token"), "the answer has an access_token")
    check(token.get("refresh_token"), "the password grant answers a refresh_token")
    check(isinstance(token.get("expires_in"), int) and token["expires_in"] > 0,
          f"expires_in is a positive number: {token.get('expires_in')!r}")
    return session, token


def me(session, base, user):
    r = session.get(f"{base}/api/v1/me")
    check(r.status_code == 200, f"GET /api/v1/me with the token: {r.status_code} {r.text}")
    name = r.json()["user"]["username"]
    check(name.lower() == user.lower(), f"/me is {user!r}, not {name!r}")


def expect_oauth_error(call, error, what):
    try:
        call()
    except OAuthError as e:
        check(e.error == error, f"{what}: error {e.error!r} ({e.description}), expected {error!r}")
        return e
    raise Failure(f"{what}: accepted, expected {error}")


def run(base, user, password):
    token_url = f"{base}/api/v1/auth/token"
    logout_url = f"{base}/api/v1/auth/logout"

    # 1. Password grant, form-encoded by the library.
    session, first = login(token_url, user, password)
    print("ok  password grant (form-encoded): access and refresh token")

    # 2. The access token works.
    me(session, base, user)
    print("ok  GET /api/v1/me with the access token")

    # 3. Refresh: a new access token and a new refresh token.
    second = session.refresh_token(token_url)
    check(second["access_token"] != first["access_token"], "the refresh gives a new access token")
    check(second.get("refresh_token") and second["refresh_token"] != first["refresh_token"],
          "the refresh gives a new refresh token (rotation)")
    me(session, base, user)
    print("ok  refresh_token grant: new access token, new refresh token; /me works with it")

    # 4. The old refresh token again: invalid_grant (and its login is ended).
    stale = new_session(token_url)
    e = expect_oauth_error(lambda: stale.refresh_token(token_url,
                                                       refresh_token=first["refresh_token"]),
                           "invalid_grant", "reusing the old refresh token")
    print(f"ok  the old refresh token is refused on reuse: invalid_grant ({e.description})")
    # The reuse ended the whole login: the token the refresh gave is refused as well.
    expect_oauth_error(lambda: session.refresh_token(token_url), "invalid_grant",
                       "the newest refresh token after its login was ended by a reuse")
    print("ok  the reuse ended the login: its newest refresh token is refused too")

    # 5. Logout: another login, revoked the RFC 7009 way the library sends it.
    session, token = login(token_url, user, password)
    r = session.revoke_token(logout_url, token=token["refresh_token"],
                             token_type_hint="refresh_token")
    check(r.status_code in (200, 204), f"logout (revoke_token): {r.status_code} {r.text}")
    expect_oauth_error(lambda: session.refresh_token(token_url), "invalid_grant",
                       "refreshing after logout")
    print("ok  logout (revoke_token): the login's refresh token is refused afterwards")


def main():
    base = setting("GONGKAI_BASE_URL").rstrip("/")
    user = setting("GONGKAI_ADMIN_USER")
    password = setting("GONGKAI_ADMIN_PASSWORD")
    try:
        run(base, user, password)
    except Failure as e:
        print(f"FAIL oauth_client: {e}", file=sys.stderr)
        return 1
    except OAuthError as e:
        print(f"FAIL oauth_client: unexpected OAuth error {e.error}: {e.description}",
              file=sys.stderr)
        return 1
    except requests.HTTPError as e:
        print(f"FAIL oauth_client: the server answered {e}", file=sys.stderr)
        return 1
    except requests.RequestException as e:
        print(f"FAIL oauth_client: cannot reach {base}: {e}", file=sys.stderr)
        return 1
    print("oauth_client: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
