"""Every way the API server can fail the plugin ends in one line on stderr and exit 3.

Real sockets, no cluster: a closed port, a plain-HTTP server spoken to over TLS,
and a local HTTP server that answers what each test needs (401, 403, 500,
garbage, or nothing until the request timeout).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bluegreen.plugin import cli
from bluegreen.plugin.verdict import ExitCode

Reply = tuple[int, bytes]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubeconfig(tmp_path: Path, server: str, namespace: str = "team") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "contexts": [
                    {
                        "name": "ctx",
                        "context": {"cluster": "c", "user": "u", "namespace": namespace},
                    }
                ],
                "current-context": "ctx",
                "users": [{"name": "u", "user": {"token": "t0ken"}}],
            }
        )
    )
    return path


class Server:
    """A local HTTP server whose answer each test chooses; it records the paths asked."""

    def __init__(self) -> None:
        self.reply: Callable[[str], Reply] = lambda path: (200, b"{}")
        self.paths: list[str] = []
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                status, body = outer.reply(self.path)
                if status == 0:  # never answer; bounded so the thread ends with the test
                    outer.release.wait(timeout=30)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps(
        {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}
    ).encode()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line(err: str) -> None:
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "shop"],
        ["status", "shop", "--watch", "--timeout", "5"],
        ["status", "shop", "--wait", "--timeout", "5"],
        ["list", "-A"],
        ["promote", "shop"],
        ["history", "shop"],
        ["version"],
    ],
)
def test_a_closed_port_is_one_line_and_exit_3(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    config = kubeconfig(tmp_path, f"https://127.0.0.1:{port}")
    code, err = run(capsys, *argv, "--kubeconfig", str(config))
    assert code == ExitCode.ERROR
    assert_one_line(err)
    assert f"cannot reach the API server at https://127.0.0.1:{port}: connection refused" in err


def test_tls_to_a_plain_http_server(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = kubeconfig(tmp_path, server.url.replace("http://", "https://"))
    code, err = run(capsys, "list", "--kubeconfig", str(config))
    assert code == ExitCode.ERROR
    assert_one_line(err)
    assert "cannot reach the API server" in err and "TLS" in err


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            (401, status_body(401, "Unauthorized", "Unauthorized")),
            "refused the credentials of context 'ctx'",
        ),
        (
            (403, status_body(403, "Forbidden", 'user "bob" cannot list bluegreenreleases')),
            'forbidden: user "bob" cannot list bluegreenreleases',
        ),
        ((500, status_body(500, "InternalError", "etcd\nis down")), "answered 500: etcd is down"),
        ((503, b"<html>no</html>"), "answered 503: <html>no</html>"),
        ((200, b"not json"), "sent invalid JSON"),
    ],
    ids=["401", "403", "500", "503-html", "garbage"],
)
def test_api_errors_are_one_line_and_exit_3(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    reply: Reply,
    expected: str,
) -> None:
    server.reply = lambda path: reply
    code, err = run(capsys, "list", "--kubeconfig", str(kubeconfig(tmp_path, server.url)))
    assert code == ExitCode.ERROR
    assert_one_line(err)
    assert expected in err


def test_a_silent_server_times_out_at_the_request_timeout(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply = lambda path: (0, b"")
    config = kubeconfig(tmp_path, server.url)
    code, err = run(capsys, "status", "shop", "--request-timeout", "1", "--kubeconfig", str(config))
    assert code == ExitCode.ERROR
    assert_one_line(err)
    assert err.endswith("timed out\n")


def test_not_found_names_the_release_and_the_namespace_of_the_context(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply = lambda path: (
        404,
        status_body(404, "NotFound", 'bluegreenreleases.bluegreen.dev "shop" not found'),
    )
    code, err = run(capsys, "status", "shop", "--kubeconfig", str(kubeconfig(tmp_path, server.url)))
    assert code == ExitCode.ERROR
    assert err == 'error: bluegreenrelease "shop" not found in namespace "team"\n'
    assert server.paths == ["/apis/bluegreen.dev/v1alpha1/namespaces/team/bluegreenreleases/shop"]


def test_a_missing_crd_says_so(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply = lambda path: (
        404,
        status_body(404, "NotFound", "the server could not find the requested resource"),
    )
    code, err = run(capsys, "list", "--kubeconfig", str(kubeconfig(tmp_path, server.url)))
    assert code == ExitCode.ERROR
    assert "is the BlueGreenRelease CRD installed?" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read kubeconfig {path}: no such file"),
        ("not: [a kubeconfig", "cannot read kubeconfig"),
        ("just a string", "not a kubeconfig"),
        ("apiVersion: v1\nkind: Config\n", "cannot load kubeconfig"),
    ],
    ids=["missing", "bad-yaml", "not-a-mapping", "no-context"],
)
def test_a_broken_kubeconfig_is_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_text(content)
    code, err = run(capsys, "status", "shop", "--kubeconfig", str(path))
    assert code == ExitCode.ERROR
    assert_one_line(err)
    assert expected.format(path=path) in err


def test_an_unknown_context_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = kubeconfig(tmp_path, "https://127.0.0.1:1")
    code, err = run(capsys, "list", "--context", "nope", "--kubeconfig", str(config))
    assert code == ExitCode.ERROR
    assert_one_line(err)
    assert "nope" in err


def test_no_kubeconfig_anywhere_outside_a_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, err = run(capsys, "list")
    assert code == ExitCode.ERROR
    assert err == f"error: no kubeconfig found ({tmp_path / 'absent'}) and not running in a pod\n"
