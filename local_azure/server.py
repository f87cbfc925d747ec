"""Runs the servers in one process: ACS (HTTPS), the dev sign-in issuer (HTTPS, Entra's layout on its
own origin) and local (HTTP: managed identity, the issuer's mint endpoint).

Binds its sockets first (so port 0 resolves to real ports before anything is built), writes the
settings file once all listen, and exits 0 on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from local_azure import settings_file
from local_azure.acs.app import (
    SERVICE,
    AcsService,
    add_data_plane_routes,
    data_plane_middleware,
    errors_middleware,
)
from local_azure.acs.auth import AcsAuthenticator
from local_azure.acs.faults import Faults, FaultSettings, Stats, apply_changes
from local_azure.acs.local import SIGNING_KEY, add_local_routes
from local_azure.acs.store import IdentityStore
from local_azure.acs.teams import TEAMS_AUDIENCE, TeamsExchange
from local_azure.acs.tokens import AcsTokens
from local_azure.appinsights import add_appinsights_routes
from local_azure.cli import Config, parse_args
from local_azure.entra.app import build_entra_app
from local_azure.entra.clients import DEFAULT_SPA_PORTS, local_clients, spa_redirect_uris
from local_azure.entra.issuance import Signer
from local_azure.entra.issuer import (
    DEFAULT_AUDIENCE,
    DEFAULT_TENANT_ID,
    ISSUER,
    IssuerService,
    add_mint_routes,
    cors_middleware,
)
from local_azure.entra.managed_identity import MI_SERVICE, MiService, add_managed_identity_routes
from local_azure.entra.mi_tokens import MiTokens
from local_azure.entra.service import EntraService
from local_azure.material import Material, load_or_create_material, operator_credential_files

log = logging.getLogger("local_azure")


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def build_acs_app(
    material: Material, store: IdentityStore, mi_tokens: MiTokens, issuer: str, config: Config
) -> web.Application:
    tokens = AcsTokens(material.resource_id, material.acs_key, store)
    faults = Faults(apply_changes(FaultSettings(), config.initial_faults()))
    app = web.Application(middlewares=[errors_middleware, data_plane_middleware])
    app[SERVICE] = AcsService(
        store=store,
        tokens=tokens,
        auth=AcsAuthenticator(material.access_key, mi_tokens),
        teams=TeamsExchange(material.issuer_key, IssuerService(material.issuer_key, issuer).issuers, tokens),
        faults=faults,
        stats=Stats(),
    )
    app[SIGNING_KEY] = material.acs_key
    add_data_plane_routes(app)
    add_local_routes(app)
    add_appinsights_routes(app, mi_tokens)  # Application Insights ingestion: appinsights.py says why here
    return app


def build_local_app(material: Material, mi_tokens: MiTokens, issuer: str) -> web.Application:
    app = web.Application(middlewares=[cors_middleware])
    app[MI_SERVICE] = MiService(mi_tokens, material.identity_header, material.system_identity, material.user_identity)
    app[ISSUER] = IssuerService(material.issuer_key, issuer)
    add_managed_identity_routes(app)
    add_mint_routes(app)
    return app


def build_issuer_app(material: Material, origin: str, config: Config) -> web.Application:
    redirect_uris = config.spa_redirect_uris or spa_redirect_uris(DEFAULT_SPA_PORTS)
    clients = local_clients(redirect_uris, material.operator_secret, material.operator_key.certificate)
    return build_entra_app(EntraService(Signer(material.issuer_key, origin), DEFAULT_TENANT_ID, clients))


async def serve(config: Config) -> int:
    temporary = config.data_dir is None
    data_dir = (config.data_dir or Path(tempfile.mkdtemp(prefix="local_azure-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    host = "127.0.0.1" if config.host == "localhost" else config.host
    material = load_or_create_material(data_dir)
    store = IdentityStore(data_dir / "state.sqlite3")
    socks = [_bind(host, port) for port in (config.acs_port, config.local_port, config.issuer_port)]
    acs_port, local_port, issuer_port = (sock.getsockname()[1] for sock in socks)
    issuer = f"https://{host}:{issuer_port}"  # the dev issuer's origin; its issuers are below it
    mi_tokens = MiTokens(material.mi_key, material.tenant_id, config.mi_token_lifetime)
    runners = [
        web.AppRunner(build_acs_app(material, store, mi_tokens, issuer, config), access_log=None),
        web.AppRunner(build_local_app(material, mi_tokens, issuer), access_log=None),
        web.AppRunner(build_issuer_app(material, issuer, config), access_log=None),
    ]
    tls = material.tls.server_context()
    try:
        for runner in runners:
            await runner.setup()
        await web.SockSite(runners[0], socks[0], ssl_context=tls, backlog=1024).start()
        await web.SockSite(runners[1], socks[1], backlog=1024).start()
        await web.SockSite(runners[2], socks[2], ssl_context=tls, backlog=1024).start()
        operator_cert, operator_key = operator_credential_files(data_dir)
        settings = settings_file.build(
            pid=os.getpid(), host=host, acs_port=acs_port, local_port=local_port, issuer_port=issuer_port,
            spa_redirect_uris=config.spa_redirect_uris or spa_redirect_uris(DEFAULT_SPA_PORTS),
            operator_secret=material.operator_secret, operator_cert_file=operator_cert,
            operator_key_file=operator_key,
            access_key=material.access_key, resource_id=material.resource_id,
            ca_cert_file=material.tls.ca_cert, identity_header=material.identity_header,
            user_client_id=material.user_identity.client_id, tenant_id=material.tenant_id,
            default_audience=DEFAULT_AUDIENCE, teams_audience=TEAMS_AUDIENCE, data_dir=data_dir,
        )  # fmt: skip
        path = config.settings_file or settings_file.default_path(data_dir)
        settings_file.write(path, settings)
        print(json.dumps(settings.to_json(), indent=2), flush=True)
        log.info(
            "local_azure listening: ACS %s, issuer %s, local http://%s:%s",
            settings.acs_endpoint, issuer, host, local_port,
        )  # fmt: skip
        await _until_signalled()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        store.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("local_azure stopping")


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return asyncio.run(serve(config))
