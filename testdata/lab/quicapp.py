#!/usr/bin/env python3
"""Minimal QUIC server and client (aioquic) for the lab.

  quicapp.py server IP PORT CERTCHAIN KEY
  quicapp.py client SRC_PORT IP PORT SNI CAFILE TIMEOUT
The client opens one bidirectional stream, sends "GET /\\r\\n" and prints the answer (ALPN "hq-interop").
"""
import asyncio
import sys

from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived
from aioquic.asyncio.protocol import QuicConnectionProtocol


class Srv(QuicConnectionProtocol):
    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self._quic.send_stream_data(event.stream_id, b"genuine QUIC content\n", end_stream=True)
            self.transmit()


async def server(ip, port, cert, key):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=["hq-interop"])
    cfg.load_cert_chain(cert, key)
    await serve(ip, port, configuration=cfg, create_protocol=Srv)
    print("ready", flush=True)
    await asyncio.Future()


async def client(sport, ip, port, sni, cafile, timeout):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=["hq-interop"], server_name=sni)
    cfg.load_verify_locations(cafile)
    cfg.idle_timeout = timeout

    async def go():
        async with connect(ip, port, configuration=cfg, local_port=sport) as conn:
            r, w = await conn.create_stream()
            w.write(b"GET /\r\n")
            w.write_eof()
            print("answer:", (await r.read()).decode().strip(), flush=True)
    try:
        await asyncio.wait_for(go(), timeout)
    except (asyncio.TimeoutError, ConnectionError) as e:
        print("failed:", type(e).__name__, flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "server":
        asyncio.run(server(a[1], int(a[2]), a[3], a[4]))
    else:
        asyncio.run(client(int(a[1]), a[2], int(a[3]), a[4], a[5], float(a[6])))
