"""The Redis a benchmark's stack runs on, started on loopback from Debian's redis-server.

Three topologies, each a context manager yielding a :class:`Topology`:

* ``one``: one server (what ``benchmarks.stack`` always ran: AOF with
  ``appendfsync always``, ``noeviction``);
* ``sentinel``: a master, two replicas and three sentinels; AOF on every data
  node, ``noeviction``, ``min-replicas-to-write 1`` (docs/deploy.md, Redis
  settings). Two replicas, so that after a failover one is left to confirm
  the webhook's WAIT;
* ``cluster``: six nodes, three masters with a replica each, made by
  ``redis-cli --cluster create``, AOF, a short ``cluster-node-timeout``.

A :class:`Topology` gives the environment the bot's processes need, its
processes (for liveness and CPU), ``kill_master()`` (SIGKILL, returns once the
process is dead), ``wait_promoted()``, ``revive()`` and ``client()``, a client
on what the current master(s) hold, to check the run against.

The process machinery every benchmark server shares (``Process``, ``start``,
``wait_ready``) lives here too, the lowest layer, so ``benchmarks.stack``
builds on it without an import cycle.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import redis
from redis.cluster import ClusterNode, RedisCluster

ROOT = Path(__file__).resolve().parents[1]
LATENCY_THRESHOLD_MS = 5
NAMES = ("one", "sentinel", "cluster")
SENTINEL_MASTER = "mymaster"
#: How long the sentinels wait before they call a silent master down. Production
#: settings are seconds (Redis' default is 30 s); on loopback a second is far above
#: any pause a busy master shows to a PING, and keeps the benchmark short. The time
#: without service grows with it.
DOWN_AFTER_MS = 1000
#: Sentinel's failover-timeout: also how long a failed election waits before the next.
FAILOVER_TIMEOUT_MS = 2000
CLUSTER_NODE_TIMEOUT_MS = 1000


class BenchmarkError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise BenchmarkError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its children (gunicorn's workers), from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        pids = [self.popen.pid]
        try:
            children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text().split()
            pids += [int(c) for c in children]
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            pass
        return total

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def stop_all(processes: list[Process], timeout: float = 20.0) -> None:
    """SIGTERM to all at once, then wait for each (SIGKILL after ``timeout``): one
    after the other, each process's own shutdown (a worker finishing its blocking
    read, gunicorn its requests) would add up."""
    for p in processes:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in processes:
        try:
            p.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()


def start(name: str, argv: list[str], workdir: Path, env: dict[str, str]) -> Process:
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def wait_ready(what: str, ready: Callable[[], Any], processes: list[Process], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for p in processes:
            p.check()
        try:
            if ready():
                return
        except (OSError, redis.RedisError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


def _redis_server() -> str:
    executable = shutil.which("redis-server")
    if executable is None:
        raise BenchmarkError("redis-server is not on PATH: apt-get install redis-server")
    return executable


def _data_node_argv(port: int, data: Path, *, aof: bool = True) -> list[str]:
    """A data node as the README requires it for a queue that must not lose messages."""
    argv = [_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data),
            "--maxmemory-policy", "noeviction",
            # Redis records every fsync (and other stall) over 5 ms: the acknowledgement's
            # tail is read against it (LATENCY HISTORY aof-fsync-always).
            "--latency-monitor-threshold", str(LATENCY_THRESHOLD_MS),
            # DEBUG HTSTATS tells the memory benchmark when a key table's rehash is over.
            "--enable-debug-command", "local",
            # A replica's first full sync starts at once, not after 5 s waiting for others.
            "--repl-diskless-sync-delay", "0"]
    return argv + (["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"])


@dataclass(frozen=True)
class Killed:
    address: tuple[str, int]
    #: Wall clock (time.time_ns) when SIGKILL was sent: comparable with the load's timestamps.
    at_ns: int


@dataclass
class Topology:
    """Redis servers of a benchmark's own. ``processes`` are those that must be
    alive: a killed master leaves the list (``revive`` brings it back)."""

    name: str
    workdir: Path
    url: str
    #: REDIS_* settings every bot process needs on this topology (REDIS_URL included).
    env: dict[str, str]
    processes: list[Process]
    #: Data nodes by port, dead or alive.
    nodes: dict[int, Process] = field(default_factory=dict)
    killed: list[Process] = field(default_factory=list)

    def check(self) -> None:
        for p in self.processes:
            p.check()

    def master_address(self) -> tuple[str, int]:
        raise NotImplementedError

    def settle(self, timeout: float = 60.0) -> None:
        """Until a failover could happen (the sentinels know each other); a no-op elsewhere."""

    def client(self) -> redis.Redis | RedisCluster:
        """A client on what the current master(s) hold (the caller closes it)."""
        host, port = self.master_address()
        return redis.Redis(host=host, port=port, socket_timeout=5)

    def kill_master(self) -> Killed:
        """SIGKILL the current master (a machine lost); returns once the process is dead."""
        self.settle()
        address = self.master_address()
        process = self.nodes[address[1]]
        at = time.time_ns()
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(30)
        self.processes.remove(process)
        self.killed.append(process)
        return Killed(address, at)

    def wait_promoted(self, old: tuple[str, int], timeout: float = 60.0) -> tuple[str, int]:
        """Until a master other than ``old`` serves; returns its address."""
        raise BenchmarkError(f"topology {self.name!r} has no replica to promote")

    def revive(self) -> Process:
        """Start the last killed server again, on its port, data and config, as a
        supervisor restarts it; where a replica replaced it, it rejoins as that one's replica."""
        dead = self.killed.pop()
        process = start(dead.name, [str(a) for a in dead.popen.args], self.workdir, dict(os.environ))
        port = next(p for p, n in self.nodes.items() if n is dead)
        self.nodes[port] = process
        self.processes.append(process)
        return process

    def worst_stalls(self) -> dict[str, int]:
        """The worst stall of each kind (an AOF fsync, a fork, a slow command) over the
        latency threshold that each live data node saw, in ms (LATENCY LATEST)."""
        worst: dict[str, int] = {}
        for port, process in self.nodes.items():
            if process not in self.processes:
                continue
            client = redis.Redis(port=port, socket_timeout=5, decode_responses=True)
            try:
                for event, _at, _latest, most in client.execute_command("LATENCY", "LATEST") or []:
                    worst[event] = max(worst.get(event, 0), int(most))
            except redis.RedisError:
                continue
            finally:
                client.close()
        return dict(sorted(worst.items()))

    def fsync_stalls(self, reset: bool = False) -> list[int]:
        """Milliseconds of each AOF fsync the master saw last over the latency threshold
        (LATENCY HISTORY keeps one sample per second: the worst of that second)."""
        host, port = self.master_address()
        client = redis.Redis(host=host, port=port)
        try:
            history = client.execute_command("LATENCY", "HISTORY", "aof-fsync-always") or []
            if reset:
                client.execute_command("LATENCY", "RESET")
            return [int(ms) for _, ms in history]
        finally:
            client.close()


class OneServer(Topology):
    def master_address(self) -> tuple[str, int]:
        [port] = self.nodes
        return ("127.0.0.1", port)


class SentinelSet(Topology):
    sentinel_ports: list[int]
    settled: bool = False

    def master_address(self) -> tuple[str, int]:
        last: Exception | None = None
        for port in self.sentinel_ports:
            watch = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            try:
                host, master_port = watch.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
                return (host, int(master_port))
            except (redis.RedisError, TypeError, ValueError) as exc:
                last = exc
            finally:
                watch.close()
        raise BenchmarkError(f"no sentinel names the master: {last}")

    def settle(self, timeout: float = 60.0) -> None:
        if self.settled:
            return

        def sentinels_know_the_set() -> bool:
            for port in self.sentinel_ports:
                watch = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
                try:
                    if (len(watch.sentinel_slaves(SENTINEL_MASTER)) != 2
                            or len(watch.sentinel_sentinels(SENTINEL_MASTER)) != 2):
                        return False
                finally:
                    watch.close()
            return True

        # Sentinels find each other through hello messages every 2 s: a failover before
        # that would have no quorum.
        wait_ready("the sentinels to know the replicas and each other", sentinels_know_the_set,
                   self.processes, timeout)
        self.settled = True

    def wait_promoted(self, old: tuple[str, int], timeout: float = 60.0) -> tuple[str, int]:
        """Returns the moment a sentinel announces ``+switch-master`` (its clients are
        told the new address from then on)."""
        watches = [redis.Redis(port=port, socket_timeout=2, decode_responses=True).pubsub()
                   for port in self.sentinel_ports]
        try:
            for watch in watches:
                try:
                    watch.subscribe("+switch-master")
                except redis.RedisError:
                    pass  # a sentinel that does not answer: the others will tell
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.check()
                for watch in watches:
                    try:
                        message = watch.get_message(ignore_subscribe_messages=True, timeout=0.02)
                    except redis.RedisError:
                        continue
                    if message and message["type"] == "message":
                        # "<name> <old host> <old port> <new host> <new port>"
                        _, _, _, host, port = message["data"].split()
                        return (host, int(port))
                # Announced before the subscriptions were made: the sentinels say so now.
                address = self.master_address()
                if address != old:
                    return address
            raise BenchmarkError(f"no replica promoted within {timeout:.0f} s")
        finally:
            for watch in watches:
                watch.close()


class Cluster(Topology):
    #: Which master is "the" master to kill: the one serving this slot (0 unless told).
    slot: int = 0

    def _nodes(self) -> list[dict[str, Any]]:
        """CLUSTER NODES as a live node sees it: id, address, flags, master id, slots."""
        for port, process in self.nodes.items():
            if process not in self.processes:
                continue
            client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            try:
                text = client.execute_command("CLUSTER", "NODES")
            except redis.RedisError:
                continue
            finally:
                client.close()
            out = []
            for line in text.splitlines():
                parts = line.split()
                address = parts[1].split("@", 1)[0]
                host, node_port = address.rsplit(":", 1)
                slots = []
                for item in parts[8:]:
                    if item.startswith("["):
                        continue  # a slot being migrated
                    lo, _, hi = item.partition("-")
                    slots.append((int(lo), int(hi or lo)))
                out.append({"id": parts[0], "address": (host, int(node_port)), "flags": set(parts[2].split(",")),
                            "master": parts[3], "slots": slots})
            return out
        raise BenchmarkError("no cluster node answers CLUSTER NODES")

    def slots_of(self, address: tuple[str, int]) -> list[tuple[int, int]]:
        """The slot ranges the node at ``address`` serves now."""
        return next((n["slots"] for n in self._nodes() if n["address"] == address), [])

    def masters(self) -> list[tuple[str, int]]:
        return sorted(n["address"] for n in self._nodes()
                      if "master" in n["flags"] and "fail" not in n["flags"] and n["slots"])

    def master_address(self) -> tuple[str, int]:
        for node in self._nodes():
            if ("master" in node["flags"] and "fail" not in node["flags"]
                    and any(lo <= self.slot <= hi for lo, hi in node["slots"])):
                return node["address"]
        raise BenchmarkError(f"no live master serves slot {self.slot}")

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port, p in self.nodes.items()
                                           if p in self.processes], socket_timeout=5)

    def state_ok(self) -> bool:
        """Every live node says cluster_state:ok."""
        for port, process in self.nodes.items():
            if process not in self.processes:
                continue
            client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            try:
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
            finally:
                client.close()
        return True

    def wait_promoted(self, old: tuple[str, int], timeout: float = 60.0) -> tuple[str, int]:
        found: list[tuple[str, int]] = []

        def promoted() -> bool:
            try:
                address = self.master_address()
            except BenchmarkError:
                return False  # the old master marked failed, its replica not yet elected
            if address == old or not self.state_ok():
                return False
            found.append(address)
            return True

        wait_ready(f"a replica promoted to serve slot {self.slot}", promoted, self.processes, timeout)
        return found[-1]


@contextmanager
def one(workdir: Path, *, aof: bool = True) -> Iterator[OneServer]:
    """One redis-server: AOF (``appendfsync always``) unless ``aof`` is False, noeviction."""
    port = free_port()
    data = workdir / f"redis-{port}"
    data.mkdir(parents=True)
    process = start("redis", _data_node_argv(port, data, aof=aof), workdir, dict(os.environ))
    url = f"redis://127.0.0.1:{port}/0"
    topology = OneServer("one", workdir, url, {"REDIS_URL": url}, [process], {port: process})
    try:
        client = redis.Redis(port=port)
        wait_ready("redis-server", client.ping, [process], 20)
        client.close()
        yield topology
    finally:
        for p in topology.nodes.values():
            p.stop()


def online_replicas(port: int) -> int:
    """How many replicas of the server on ``port`` are in sync (what WAIT can count)."""
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        info = client.info("replication")
    finally:
        client.close()
    return sum(1 for k, v in info.items()
               if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online")


@contextmanager
def sentinel(workdir: Path, *, down_after_ms: int = DOWN_AFTER_MS,
             failover_timeout_ms: int = FAILOVER_TIMEOUT_MS) -> Iterator[SentinelSet]:
    """A master, two replicas, three sentinels (quorum 2), on loopback. Yields once
    every server answers and the replicas are in sync: the sentinels still need a few
    seconds to find each other, which ``settle()`` (and ``kill_master()``) waits for,
    so the bot's processes start meanwhile."""
    ports = [free_port() for _ in range(3)]
    sentinel_ports = [free_port() for _ in range(3)]
    env = dict(os.environ)
    with ExitStack() as stack_:
        nodes: dict[int, Process] = {}
        topology = SentinelSet("sentinel", workdir, f"redis://127.0.0.1:{ports[0]}/0", {}, [], nodes)
        topology.sentinel_ports = sentinel_ports
        stack_.callback(lambda: stop_all([*topology.processes, *topology.killed]))
        for n, port in enumerate(ports):
            data = workdir / f"redis{n + 1}-{port}"
            data.mkdir(parents=True)
            # Every data node gets the master's settings: any of them may be promoted.
            argv = _data_node_argv(port, data) + ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]
            if n:
                argv += ["--replicaof", "127.0.0.1", str(ports[0])]
            nodes[port] = start(f"redis{n + 1}", argv, workdir, env)
            topology.processes.append(nodes[port])
        for port in ports:
            wait_ready(f"redis-server on {port}", redis.Redis(port=port).ping, topology.processes, 20)
        wait_ready("both replicas in sync", lambda: online_replicas(ports[0]) == 2, topology.processes, 30)
        for n, port in enumerate(sentinel_ports):
            data = workdir / f"sentinel{n + 1}-{port}"
            data.mkdir(parents=True)
            conf = data / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {data}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {ports[0]} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} {down_after_ms}\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} {failover_timeout_ms}\n"
                f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n")
            topology.processes.append(start(f"sentinel{n + 1}", [_redis_server(), str(conf), "--sentinel"],
                                            workdir, env))

        topology.env = {"REDIS_URL": topology.url, "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
                        "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in sentinel_ports),
                        "REDIS_MIN_REPLICAS": "1"}
        yield topology


@contextmanager
def cluster(workdir: Path, *, node_timeout_ms: int = CLUSTER_NODE_TIMEOUT_MS) -> Iterator[Cluster]:
    """Six nodes, three masters with a replica each (``redis-cli --cluster create``).

    No ``min-replicas-to-write`` here: after a failover the promoted master has no
    replica until the killed node returns (``revive``), and with it Redis would refuse
    the workers' writes too, stalling events already acknowledged; the webhook's WAIT
    (REDIS_MIN_REPLICAS=1) is what keeps unreplicated events unacknowledged."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise BenchmarkError("redis-cli is not on PATH: apt-get install redis-tools")
    ports = [free_port() for _ in range(6)]
    env = dict(os.environ)
    nodes: dict[int, Process] = {}
    url = f"redis://127.0.0.1:{ports[0]}/0"
    topology = Cluster("cluster", workdir, url, {}, [], nodes)
    try:
        for n, port in enumerate(ports):
            data = workdir / f"node{n + 1}-{port}"
            data.mkdir(parents=True)
            argv = _data_node_argv(port, data) + [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms),
                # As docs/redis.md asks: the other masters keep serving while one fails over.
                "--cluster-require-full-coverage", "no",
                # A bus port of its own: the default (port + 10000) may be taken, or past 65535.
                "--cluster-port", str(free_port())]
            nodes[port] = start(f"node{n + 1}", argv, workdir, env)
            topology.processes.append(nodes[port])
        for port in ports:
            wait_ready(f"redis-server on {port}", redis.Redis(port=port).ping, topology.processes, 20)
        created = subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                                  "--cluster-replicas", "1", "--cluster-yes"],
                                 capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise BenchmarkError(f"redis-cli --cluster create failed:\n{created.stdout[-2000:]}{created.stderr}")

        def formed() -> bool:
            listed = topology._nodes()
            replicas_linked = sum(1 for n in listed if "slave" in n["flags"]) == 3
            return len(topology.masters()) == 3 and replicas_linked and topology.state_ok() and all(
                _link_up(p) for p in ports if any("slave" in n["flags"] and n["address"][1] == p for n in listed))

        wait_ready("the cluster (cluster_state:ok, three replicas in sync)", formed, topology.processes, 60)
        topology.env = {"REDIS_URL": url, "REDIS_MIN_REPLICAS": "1",
                        "REDIS_CLUSTER_NODES": ",".join(f"127.0.0.1:{p}" for p in ports)}
        yield topology
    finally:
        stop_all([*topology.processes, *topology.killed])


def _link_up(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        return client.info("replication").get("master_link_status") == "up"
    finally:
        client.close()


@contextmanager
def launch(name: str, workdir: Path, **options: Any) -> Iterator[Topology]:
    """The topology called ``name`` (one of NAMES), in ``workdir``."""
    launchers = {"one": one, "sentinel": sentinel, "cluster": cluster}
    if name not in launchers:
        raise BenchmarkError(f"unknown Redis topology {name!r}: one of {', '.join(NAMES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    with launchers[name](workdir, **options) as topology:
        yield topology
