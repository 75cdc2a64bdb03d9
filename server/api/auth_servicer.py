"""AuthService: protobuf in, domain call, protobuf out."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any

from generated.samvaad.v1 import auth_pb2, auth_pb2_grpc
from server.api import converters
from server.api.context import current_user_id
from server.domain.auth import AuthService
from server.domain.profiles import ProfileService

Context = Any

# grpc's peer strings: "ipv4:1.2.3.4:5678", "ipv6:[::1]:5678", "unix:/path", ...
_IPV4_PEER = re.compile(r"ipv4:([0-9.]+):[0-9]+")
_IPV6_PEER = re.compile(r"ipv6:\[([0-9A-Fa-f:.%a-zA-Z0-9]+)\]:[0-9]+")


def peer_address(peer: str | None) -> str:
    """The client's IP address in `context.peer()`, without the port; "" when there is none."""
    if not peer:
        return ""
    if match := _IPV4_PEER.fullmatch(peer):
        return match.group(1)
    if match := _IPV6_PEER.fullmatch(peer):
        return match.group(1).split("%", 1)[0]
    return ""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _is_in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def client_address(
    peer: str | None, metadata: Iterable[tuple[str, Any]], trusted_proxies: Sequence[Network]
) -> str:
    """The address the throttles budget: the TCP peer, or, when the peer is a trusted
    proxy, the nearest untrusted address in its `x-forwarded-for` (proxies append)."""
    address = peer_address(peer)
    if not trusted_proxies or not _is_in(address, trusted_proxies):
        return address
    forwarded = [
        hop.strip()
        for key, value in metadata
        if key == "x-forwarded-for" and isinstance(value, str)
        for hop in value.split(",")
    ]
    for hop in reversed(forwarded):
        if not _is_in(hop, trusted_proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return ""  # not an address: the shared "unknown" bucket
    return address


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(
        self, auth: AuthService, profiles: ProfileService, trusted_proxies: Sequence[Network] = ()
    ) -> None:
        self._auth = auth
        self._profiles = profiles
        self._trusted_proxies = tuple(trusted_proxies)

    def _peer_of(self, context: Context) -> str:
        try:
            peer, metadata = context.peer(), context.invocation_metadata() or ()
        except Exception:  # a context without a transport (a servicer called directly)
            return ""
        return client_address(peer, metadata, self._trusted_proxies)

    async def Register(
        self, request: auth_pb2.RegisterRequest, context: Context
    ) -> auth_pb2.RegisterResponse:
        profile, pair = await self._auth.register(
            request.email, request.password, request.name, peer=self._peer_of(context)
        )
        return auth_pb2.RegisterResponse(
            user=converters.user(profile), tokens=converters.tokens(pair)
        )

    async def Login(
        self, request: auth_pb2.LoginRequest, context: Context
    ) -> auth_pb2.LoginResponse:
        profile, pair = await self._auth.login(
            request.email, request.password, peer=self._peer_of(context)
        )
        return auth_pb2.LoginResponse(user=converters.user(profile), tokens=converters.tokens(pair))

    async def RefreshToken(
        self, request: auth_pb2.RefreshTokenRequest, context: Context
    ) -> auth_pb2.RefreshTokenResponse:
        pair = await self._auth.refresh(request.refresh_token)
        return auth_pb2.RefreshTokenResponse(tokens=converters.tokens(pair))

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: Context
    ) -> auth_pb2.LogoutResponse:
        await self._auth.logout(current_user_id(), request.refresh_token)
        return auth_pb2.LogoutResponse()

    async def GetMe(
        self, request: auth_pb2.GetMeRequest, context: Context
    ) -> auth_pb2.GetMeResponse:
        return auth_pb2.GetMeResponse(
            user=converters.user(await self._auth.get_me(current_user_id()))
        )

    async def UpdateProfile(
        self, request: auth_pb2.UpdateProfileRequest, context: Context
    ) -> auth_pb2.UpdateProfileResponse:
        updated = await self._profiles.update(
            current_user_id(),
            converters.profile_from_proto(request.profile),
            list(request.update_mask.paths),
        )
        return auth_pb2.UpdateProfileResponse(user=converters.user(updated))
