"""pytest plugin: a real, throw-away redis-server for tests that need Redis semantics.

Register it in the project's conftest with ``pytest_plugins = ["tests.redis_server"]``.
fakeredis is not used for these tests on purpose: locks, TTLs and SET EX must be
checked against the server the bot runs against.

Without redis-server on PATH the Redis tests are skipped locally, but fail under CI
(env var CI set), so a CI image that lost redis-server cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

STARTUP_DEADLINE_SECONDS = 10.0
INSTALL_HINT = "install redis-server (e.g. `apt-get install redis-server`) and make sure it is on PATH"


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so Redis tests may not be skipped)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    # Bind to port 0 and let the kernel choose; the tiny race until redis-server binds
    # is acceptable, and a lost race shows up as a startup failure with redis' own log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ping(process: subprocess.Popen, port: int, log_path: Path) -> str | None:
    """Return None once PING answers, or a reason why the server is not coming up."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"redis-server exited with code {process.returncode}: {_tail(log_path)}"
            try:
                if client.ping():
                    return None
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        return (
            f"redis-server on port {port} did not answer PING within "
            f"{STARTUP_DEADLINE_SECONDS}s: {_tail(log_path)}"
        )
    finally:
        client.close()


def _tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-2000:].strip() or "(empty log)"
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a redis-server started for this test session on a free loopback port."""
    executable = shutil.which("redis-server")
    if executable is None:
        _unavailable(f"redis-server is not on PATH; {INSTALL_HINT}")
    workdir = tmp_path_factory.mktemp("redis")
    log_path = workdir / "redis.log"
    port = _free_port()
    command = [
        executable,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--daemonize", "no",
    ]
    # The server logs to stdout; keeping it in a file (not a pipe nobody reads) means a
    # chatty server cannot block, and a failed start can quote the server's own words.
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            _unavailable(f"redis-server at {executable} could not be started: {exc}")
    try:
        problem = _wait_for_ping(process, port, log_path)
        if problem is not None:
            _unavailable(problem)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: Runs a test (or, as ``pytestmark``, a module's tests) that uses Redis once on one
#: redis-server and once on the session's Redis Cluster: its ``redis_client``,
#: ``redis_settings`` and ``redis_connect`` are then the cluster's. Tests without
#: Redis run once.
on_one_and_cluster = pytest.mark.on_one_and_cluster


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("on_one_and_cluster") and "redis_target" in metafunc.fixturenames:
        metafunc.parametrize("redis_target", ["one", "cluster"], indirect=True)


@pytest.fixture
def redis_target(request: pytest.FixtureRequest) -> str:
    """Which Redis the test's Redis fixtures are: ``one`` server unless the test is
    parametrized (``on_one_and_cluster``) with ``cluster``."""
    return getattr(request, "param", "one")


@pytest.fixture
def redis_settings(request: pytest.FixtureRequest, redis_target: str) -> dict[str, str]:
    """The settings that point the bot at the test's Redis (REDIS_URL, and for the
    cluster REDIS_CLUSTER_NODES)."""
    if redis_target == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        return {"REDIS_URL": f"redis://{cluster.addresses[0]}/0", "REDIS_CLUSTER_NODES": cluster.startup_nodes}
    return {"REDIS_URL": request.getfixturevalue("redis_server_url")}


def _cluster_nodes(startup_nodes: str) -> tuple[tuple[str, int], ...]:
    return tuple((host, int(port)) for host, _, port in (a.rpartition(":") for a in startup_nodes.split(",") if a))


@pytest.fixture
def redis_connect(redis_settings: dict[str, str]) -> Callable[[], redis.Redis]:
    """Makes a new client of the bot's kind for the test's Redis (one per racing thread)."""
    from bot.storage.redis import make_redis_client

    nodes = _cluster_nodes(redis_settings.get("REDIS_CLUSTER_NODES", ""))
    return lambda: make_redis_client(redis_settings["REDIS_URL"], cluster_nodes=nodes)


@pytest.fixture
def redis_client(request: pytest.FixtureRequest, redis_target: str) -> Iterator[redis.Redis]:
    """A client on an empty Redis: flushed before each test so tests cannot leak into each other."""
    if redis_target == "cluster":
        yield request.getfixturevalue("redis_cluster_client")
        return
    # Imported here so a broken bot.storage fails only the Redis tests, not every
    # test module that loads this plugin.
    from bot.storage.redis import make_redis_client

    client = make_redis_client(request.getfixturevalue("redis_server_url"))
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


class OwnServer:
    """A redis-server of one test's own on a free loopback port (``args`` added to its
    command line), or with ``sentinel_conf`` a Redis Sentinel run from that config
    (its ``port`` line written here): for tests of replication and failover, which
    need servers they may pause, kill and promote."""

    def __init__(self, workdir: Path, *args: str, sentinel_conf: str | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            _unavailable(f"redis-server is not on PATH; {INSTALL_HINT}")
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        if sentinel_conf is not None:
            conf = workdir / "sentinel.conf"
            conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n{sentinel_conf}")
            command = [executable, str(conf), "--sentinel"]
        else:
            command = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(workdir), *args]
        self._command, self._workdir = command, workdir
        self._start()

    def _start(self) -> None:
        log = self._workdir / "redis.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(self._command, cwd=self._workdir, stdout=out, stderr=subprocess.STDOUT)
        problem = _wait_for_ping(self.process, self.port, log)
        if problem is not None:
            self.stop()
            raise AssertionError(problem)

    def restart(self) -> None:
        """Started again on its port and directory, as a supervisor restarts a server
        that died (a cluster node rejoins from its nodes.conf)."""
        self.stop()
        self._start()

    def stop(self) -> None:
        """Ends it, also when it was paused (SIGSTOP) or already gone."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class OwnCluster:
    """A Redis Cluster of one test's (or one test session's) own on loopback: three
    masters with a replica each, made by ``redis-cli --cluster create`` as an operator
    makes one, with the settings docs/redis.md asks for (noeviction, and the other
    masters serving while one fails over). ``node_timeout_ms`` is short, and a
    resync starts at once, so that a killed master is replaced by its replica within
    a couple of seconds; production keeps longer ones (docs/redis.md)."""

    def __init__(self, workdir: Path, *, masters: int = 3, node_timeout_ms: int = 1000) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            _unavailable(f"redis-cli is not on PATH; {INSTALL_HINT}")
        self.nodes: list[OwnServer] = []
        try:
            for n in range(masters * 2):
                # The cluster bus listens on a port of its own; port + 10000, the default,
                # may be taken or past 65535 for a port the kernel chose.
                self.nodes.append(OwnServer(
                    workdir / f"node{n}", "--cluster-enabled", "yes", "--cluster-port", str(_free_port()),
                    "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(node_timeout_ms),
                    "--maxmemory-policy", "noeviction", "--repl-diskless-sync-delay", "0",
                    "--cluster-require-full-coverage", "no"))
            created = subprocess.run(
                [cli, "--cluster", "create", *self.addresses, "--cluster-replicas", "1", "--cluster-yes"],
                capture_output=True, text=True, timeout=60)
            if created.returncode != 0:
                raise AssertionError(f"redis-cli --cluster create failed: {created.stdout[-2000:]}"
                                     f"{created.stderr[-2000:]}")
            self.wait_ok()
            self._wait_replicas_in_sync()
        except BaseException:
            self.stop()
            raise

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    @property
    def startup_nodes(self) -> str:
        """What REDIS_CLUSTER_NODES says."""
        return ",".join(self.addresses)

    def alive(self) -> list[OwnServer]:
        return [node for node in self.nodes if node.process.poll() is None]

    def _info(self, node: OwnServer, section: str) -> dict[str, str]:
        client = redis.Redis(port=node.port, socket_timeout=1, decode_responses=True)
        try:
            text = client.execute_command("CLUSTER", section.upper())
        finally:
            client.close()
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Until every live node says the cluster is ok with every slot served, and
        each live master has a replica in sync again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._info(node, "info").get("cluster_state") == "ok"
                       and self._info(node, "info").get("cluster_slots_ok") == "16384"
                       for node in self.alive()):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster was not ok within {timeout} s")
            time.sleep(0.1)

    def _wait_replicas_in_sync(self, timeout: float = 20.0) -> None:
        """Until every master has its replica online: WAIT counts only those."""
        from benchmarks.topology import online_replicas

        deadline = time.monotonic() + timeout
        while not all(online_replicas(node.port) >= 1 for node in self.masters()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the replicas were not in sync within {timeout} s")
            time.sleep(0.05)

    def masters(self) -> list[OwnServer]:
        """The live nodes that serve slots now (after a failover, a promoted replica)."""
        found = []
        for node in self.alive():
            client = redis.Redis(port=node.port, socket_timeout=1, decode_responses=True)
            try:
                if client.info("replication").get("role") == "master":
                    found.append(node)
            finally:
                client.close()
        return found

    def master_of(self, key: str) -> OwnServer:
        """The live master serving ``key``'s slot."""
        found = self.serving(key)
        if found is None:
            raise AssertionError(f"no live master serves {key!r}")
        return found

    def serving(self, key: str) -> OwnServer | None:
        """The live master serving ``key``'s slot, by its own account, or None (its
        master died and no replica has taken over yet)."""
        for node in self.masters():
            client = redis.Redis(port=node.port, socket_timeout=1)
            try:
                slot = client.execute_command("CLUSTER", "KEYSLOT", key)
                for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end and int(primary[1]) == node.port:
                        return node
            finally:
                client.close()
        return None

    def replica_of(self, master: OwnServer) -> OwnServer:
        """The live node replicating ``master``."""
        client = redis.Redis(port=master.port, socket_timeout=1, decode_responses=True)
        try:
            info = client.info("replication")
        finally:
            client.close()
        ports = {int(v["port"]) for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)}
        for node in self.alive():
            if node.port in ports:
                return node
        raise AssertionError(f"no live replica of the master on port {master.port}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    """A 3 x 2 Redis Cluster for this test session (each xdist worker has its own).
    Tests that kill a node start a cluster of their own instead."""
    cluster = OwnCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster_client(redis_cluster: OwnCluster) -> Iterator[redis.Redis]:
    """The bot's kind of client for the session's cluster, every master flushed first."""
    from bot.storage.redis import make_redis_client

    client = make_redis_client(f"redis://{redis_cluster.addresses[0]}/0",
                               cluster_nodes=_cluster_nodes(redis_cluster.startup_nodes))
    client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    try:
        yield client
    finally:
        client.close()


def all_keys(client: redis.Redis, pattern: str = "*") -> list[bytes]:
    """Every key matching ``pattern``, from every master when ``client`` is a cluster's
    (KEYS on a cluster client asks one node)."""
    if isinstance(client, redis.RedisCluster):
        return client.keys(pattern, target_nodes=redis.RedisCluster.PRIMARIES)
    return client.keys(pattern)
