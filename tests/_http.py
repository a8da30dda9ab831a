"""A local HTTP file server on 127.0.0.1 for the download tests (Range requests, injected faults)."""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _State:
    def __init__(self, root: Path):
        self.root = root
        self.fail_next = 0  # answer 503 to this many requests
        self.cut_next = 0  # send only half of the body of this many responses
        self.ignore_range = False  # answer 200 with the whole file even to Range requests
        self.content_type: str | None = None  # a Content-Type header for every file
        self.log: list[tuple[str, str | None, int]] = []


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        st: _State = self.server.state
        rng = self.headers.get("Range")
        path = st.root / self.path.split("?")[0].lstrip("/")
        if st.fail_next > 0:
            st.fail_next -= 1
            return self._reply(503, rng)
        if not path.is_file():
            return self._reply(404, rng)
        data = path.read_bytes()
        start, status = 0, 200
        if rng and not st.ignore_range:
            start, status = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)), 206
            if start >= len(data):
                return self._reply(416, rng, {"Content-Range": f"bytes */{len(data)}"})
        body = data[start:]
        st.log.append((self.path, rng, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if st.content_type:
            self.send_header("Content-Type", st.content_type)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if st.cut_next > 0:
            st.cut_next -= 1
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)

    def _reply(self, status: int, rng: str | None, headers: dict[str, str] | None = None) -> None:
        self.server.state.log.append((self.path, rng, status))
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, root: Path):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self.state = _State(root)
        self.root = root
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@contextlib.contextmanager
def local_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the files in ``tmp_path/served`` for the duration of the block (test modules
    wrap it in their ``server`` fixture)."""
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    try:
        yield srv
    finally:
        srv.close()


def serve(server: Server, name: str, data: bytes) -> str:
    """Serve ``data`` as ``name``; its URL."""
    (server.root / name).write_bytes(data)
    return server.url(name)


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive of ``{member name: content}``, in memory (a fake download)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_gz_bytes(files: dict[str, bytes]) -> bytes:
    """A gzip-compressed tar archive of ``{member name: content}``, in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
