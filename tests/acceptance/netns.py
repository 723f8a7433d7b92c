"""Worker "hosts" as Linux network namespaces, and a TCP forwarder that lets them reach PostgreSQL.

For tests/acceptance/test_multihost.py. ``Network`` makes one namespace per host, each joined to
the root namespace by a veth pair on its own /30 of one private /24 picked so it overlaps no
route or address already on the machine. Traffic goes only between a namespace and the root
namespace: nothing is forwarded or NATed, and a blackhole route for the whole /24 keeps packets
for a cut-off host from leaving by the root namespace's default route. ``cut(n)`` and
``restore(n)`` take host ``n``'s link down and up.

PostgreSQL listens on 127.0.0.1 only and must not be reconfigured, so ``python -m
tests.acceptance.netns forward`` (``forward()``), started by ``Network.start_forwarder``, listens
on each host's root-side address and copies bytes to and from 127.0.0.1:5432: the server sees
connections from 127.0.0.1, which its pg_hba trusts. It is a separate process so that copying
the workers' traffic never competes with the test for one interpreter lock.

Everything needs root and iproute2's ``ip``; ``Network.close()`` removes all it made, whatever
state a failed or interrupted test left it in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: The private block the hosts' subnets are picked from: 10.213.<x>.0/24 for a free <x>.
BLOCK = ipaddress.ip_network("10.213.0.0/16")


def available() -> str | None:
    """Return why namespaces cannot be made here (not root, no ``ip``), or None if they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip <args>``; raise ``RuntimeError`` with its stderr if it fails and ``check``."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def used_networks() -> list[ipaddress.IPv4Network]:
    """Return every IPv4 network the machine routes or has an address on (all tables)."""
    networks = []
    for route in json.loads(ip("-j", "-4", "route", "show", "table", "all").stdout or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            networks.append(ipaddress.ip_network(dst, strict=False))
    for link in json.loads(ip("-j", "-4", "addr").stdout or "[]"):
        for addr in link.get("addr_info", []):
            networks.append(ipaddress.ip_network(f"{addr['local']}/{addr['prefixlen']}", False))
    return [n for n in networks if isinstance(n, ipaddress.IPv4Network)]


def free_subnet() -> ipaddress.IPv4Network:
    """Return a /24 of ``BLOCK`` that overlaps no route or address of the machine."""
    used = used_networks()
    candidates = list(BLOCK.subnets(new_prefix=24))
    random.shuffle(candidates)
    for candidate in candidates:
        if not any(candidate.overlaps(n) for n in used):
            return candidate
    raise RuntimeError(f"every /24 of {BLOCK} is in use on this machine")


@dataclass
class Host:
    """One worker host: namespace ``namespace``, reached from the root side at ``root_ip``."""

    number: int
    namespace: str
    root_veth: str
    host_veth: str
    root_ip: str
    host_ip: str
    prefixlen: int = 30


class Network:
    """``count`` namespaces, each with a veth pair to the root namespace; see the module doc.

    Use as a context manager, or call ``close()`` in a ``finally``: it kills the processes
    started here, deletes the veths, namespaces and the blackhole route, and is safe to call
    twice or after a half-finished ``__init__``.
    """

    def __init__(self, count: int) -> None:
        tag = secrets.token_hex(3)
        self.subnet = free_subnet()
        self.hosts: list[Host] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._blackhole = False
        base = self.subnet.network_address
        try:
            ip("route", "add", "blackhole", str(self.subnet))
            self._blackhole = True
            for n in range(1, count + 1):
                host = Host(
                    number=n,
                    namespace=f"djt-{tag}-{n}",
                    root_veth=f"djt{tag}r{n}",
                    host_veth=f"djt{tag}n{n}",
                    root_ip=str(base + 4 * n + 1),
                    host_ip=str(base + 4 * n + 2),
                )
                self.hosts.append(host)
                self._make(host)
        except BaseException:
            self.close()
            raise

    def _make(self, host: Host) -> None:
        ns, prefix = host.namespace, host.prefixlen
        ip("netns", "add", ns)
        ip("link", "add", host.root_veth, "type", "veth", "peer", "name", host.host_veth)
        ip("link", "set", host.host_veth, "netns", ns)
        ip("addr", "add", f"{host.root_ip}/{prefix}", "dev", host.root_veth)
        ip("link", "set", host.root_veth, "up")
        ip("-n", ns, "addr", "add", f"{host.host_ip}/{prefix}", "dev", host.host_veth)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "link", "set", host.host_veth, "up")
        ip("-n", ns, "route", "add", "default", "via", host.root_ip)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def host(self, number: int) -> Host:
        return self.hosts[number - 1]

    def cut(self, number: int) -> None:
        """Take host ``number``'s link down on the root side (a pulled cable, seen from it).

        The host keeps its address and routes and sees only a lost carrier, as in a real
        partition: its open connections stall without an error, and a new one fails once ARP
        gives up (about 3 s, "No route to host"). Downing its own side instead would make every
        send fail at once for want of a route, and delete its default route too. The root
        side's route to the host goes with the link; the blackhole route then keeps the
        forwarder's packets for it from leaving by the default route.
        """
        ip("link", "set", self.host(number).root_veth, "down")

    def restore(self, number: int) -> None:
        """Bring host ``number``'s link back up; the kernel restores the root side's route."""
        ip("link", "set", self.host(number).root_veth, "up")

    def exec_prefix(self, number: int) -> list[str]:
        """Return the argv prefix that runs a command inside host ``number``'s namespace."""
        return ["ip", "netns", "exec", self.host(number).namespace]

    def start_forwarder(self, log: Path, target: str = "127.0.0.1:5432") -> dict[int, int]:
        """Start the forwarder on every host's root-side address; return host number -> port.

        Each port is picked free by the kernel (bound to port 0). Fails with ``RuntimeError``
        if the forwarder has not written its ports within a minute.
        """
        addresses = [h.root_ip for h in self.hosts]
        ports_file = log.with_suffix(".ports")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.acceptance.netns", "forward",
                 "--target", target, "--ports-file", str(ports_file), *addresses],
                cwd=Path(__file__).resolve().parents[2],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.processes.append(proc)
        deadline = time.monotonic() + 60
        while not ports_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the forwarder did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        ports = json.loads(ports_file.read_text())
        return {h.number: ports[h.root_ip] for h in self.hosts}

    def adopt(self, proc: subprocess.Popen[bytes]) -> None:
        """Have ``close()`` kill ``proc`` (started in its own session) before deleting links."""
        self.processes.append(proc)

    def close(self) -> None:
        """Kill the adopted processes, then delete the veths, namespaces and blackhole route."""
        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        self.processes.clear()
        for host in self.hosts:
            ip("link", "del", host.root_veth, check=False)  # deletes its peer too
            ip("netns", "del", host.namespace, check=False)
        self.hosts.clear()
        if self._blackhole:
            ip("route", "del", "blackhole", str(self.subnet), check=False)
            self._blackhole = False


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} {message}", flush=True)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
    why = "end of stream"
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError as exc:
        why = repr(exc)
    finally:
        _log(f"{name}: {why}; closing the other side")
        writer.close()


async def _serve(addresses: list[str], target: str, ports_file: Path) -> None:
    target_host, target_port = target.rsplit(":", 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address, port = writer.get_extra_info("peername")[:2]
        peer = f"{address}:{port}"
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, int(target_port))
        except OSError as exc:
            _log(f"{peer}: cannot reach {target}: {exc!r}")
            writer.close()
            return
        _log(f"{peer}: connected to {target}")
        await asyncio.gather(
            _pump(reader, up_writer, f"{peer} to server"),
            _pump(up_reader, writer, f"server to {peer}"),
        )

    servers = [await asyncio.start_server(handle, address, 0) for address in addresses]
    ports = {a: s.sockets[0].getsockname()[1] for a, s in zip(addresses, servers, strict=True)}
    partial = ports_file.with_suffix(".tmp")
    partial.write_text(json.dumps(ports))
    partial.rename(ports_file)  # appears whole: the test reads it as soon as it exists
    await asyncio.gather(*(s.serve_forever() for s in servers))


def forward(argv: list[str]) -> None:
    """Listen on each address (a free port each) and forward every connection to ``--target``.

    Writes ``{address: port}`` as JSON to ``--ports-file`` once listening, then serves until
    killed. A side that closes closes the other: the server sees a client that went away.
    """
    parser = argparse.ArgumentParser(prog="python -m tests.acceptance.netns forward")
    parser.add_argument("--target", default="127.0.0.1:5432")
    parser.add_argument("--ports-file", type=Path, required=True)
    parser.add_argument("addresses", nargs="+")
    options = parser.parse_args(argv)
    asyncio.run(_serve(options.addresses, options.target, options.ports_file))


if __name__ == "__main__":
    if sys.argv[1:2] != ["forward"]:
        sys.exit("usage: python -m tests.acceptance.netns forward ADDRESS...")
    forward(sys.argv[2:])
