"""Artifacts: ``Run.log_artifact`` and ``Run.use_artifact(...).download()``, and jobs made from a git checkout.

Files move as the server's upload protocol wants: the manifest (path, size, sha256) first, then only the blobs the
server lacks, each streamed from disk with a Content-Length (to the server, or in parts straight to an S3 bucket at
the presigned URLs the server hands out), then the commit. Downloads stream to a temporary file
beside the target, are checked against their sha256 and renamed into place. Nothing is held in memory whole.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

from ._api import USER_AGENT, Error, path_segment, _problem_message

if TYPE_CHECKING:
    from ._run import Run

_CHUNK = 1 << 20
_PLAN_BATCH = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Artifact:
    """An artifact version a run uses (from :meth:`Run.use_artifact`); ``download()`` fetches its files."""

    def __init__(self, run: "Run", info: Mapping[str, Any]) -> None:
        self._run = run
        self.info: Dict[str, Any] = dict(info)
        self.name: str = str(info["name"])
        self.version: str = str(info["version"])
        self.type: str = str(info["type"])
        self.aliases: List[str] = list(info.get("aliases") or [])
        self.files: List[Dict[str, Any]] = list(info.get("files") or [])

    def __repr__(self) -> str:
        return f"<Artifact {self.name}:{self.version} type={self.type!r} files={len(self.files)}>"

    def download(self, root: Optional[str] = None) -> str:
        """Write the files under ``root`` (default ``./artifacts/NAME-vK``), checking each digest; files already
        there with the right content are kept. Returns the directory."""
        target_root = os.path.abspath(root or os.path.join("artifacts", f"{self.name}-{self.version}"))
        os.makedirs(target_root, exist_ok=True)
        real_root = os.path.realpath(target_root)
        for entry in self.files:
            path, size, digest = str(entry["path"]), int(entry["size"]), str(entry["sha256"])
            target = _target_path(target_root, real_root, path)
            if _has_content(target, size, digest):
                continue
            parent = os.path.dirname(target)
            os.makedirs(parent, exist_ok=True)
            if os.path.realpath(parent) != real_root and not os.path.realpath(parent).startswith(real_root + os.sep):
                raise Error(f"{parent} leads outside {target_root} through a symbolic link; nothing was written there")
            temp = os.path.join(parent, f".liftoff-{uuid.uuid4().hex}.tmp")
            try:
                _download_blob(self._run, digest, temp, size)
                os.replace(temp, target)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        return target_root


def log_artifact(run: "Run", path: str, name: str, type: str, aliases: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    files = _scan(path)
    if not files:
        raise Error(f"{path} holds no files to upload")
    manifest = [{"path": rel, "size": os.path.getsize(full), "sha256": _sha256(full)} for rel, full in files]
    missing = set(_client(run).request("POST", "/api/v1/blobs/check", {"files": manifest})["missing"])
    uploads: List[Tuple[str, Dict[str, Any]]] = []
    for (_, full), entry in zip(files, manifest):
        if entry["sha256"] in missing:
            missing.discard(entry["sha256"])
            uploads.append((full, entry))
    for start in range(0, len(uploads), _PLAN_BATCH):
        batch = uploads[start : start + _PLAN_BATCH]
        blobs = [{"sha256": entry["sha256"], "size": entry["size"]} for _, entry in batch]
        plans = _client(run).request("POST", "/api/v1/blobs/uploads", {"blobs": blobs})["uploads"]
        for (full, entry), plan in zip(batch, plans):
            if plan.get("parts"):
                _upload_direct(run, full, entry["sha256"], entry["size"], plan)
            else:
                _upload_blob(run, full, entry["sha256"], entry["size"])
    body = {"type": type, "files": manifest, "aliases": list(aliases or []), "run_id": run.id}
    return _client(run).request("POST", f"/api/v1/artifacts/{path_segment(run.project)}/{path_segment(name)}", body)


def use_artifact(run: "Run", artifact: str) -> Artifact:
    info = _client(run).request(
        "POST", f"/api/v1/runs/{path_segment(run.id)}/artifacts/used", {"artifact": artifact, "project": run.project}
    )
    return Artifact(run, info)


def create_job_from_checkout(run: "Run", config: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """Make a repo job version from the git checkout the script runs in: remote (without credentials), HEAD commit,
    the script's directory as subdir, ``python SCRIPT`` as entrypoint and the run config as input defaults.
    Returns the job version, or None (with a message) when the script is not in a usable checkout."""
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] and sys.argv[0] != "-c" else None
    if script is None or not os.path.isfile(script):
        _say("liftoff: job=True needs a script file; no job was created")
        return None
    directory = os.path.dirname(script)
    git = _git(directory, "rev-parse", "--show-toplevel")
    commit = _git(directory, "rev-parse", "HEAD")
    remote = _git(directory, "remote", "get-url", "origin") or _git(directory, "config", "--get", "remote.origin.url")
    if not (git and commit and remote):
        _say("liftoff: job=True needs a git checkout with an 'origin' remote and a commit; no job was created")
        return None
    if _git(directory, "status", "--porcelain", "--untracked-files=no"):
        _say("liftoff: the checkout has uncommitted changes; the job runs the committed code")
    relative = os.path.relpath(script, git).replace(os.sep, "/")
    subdir, _, file_name = relative.rpartition("/")
    source: Dict[str, Any] = {"remote": strip_credentials(remote), "commit": commit}
    if subdir:
        source["subdir"] = subdir
    job_name = re.sub(r"[^A-Za-z0-9._-]", "-", f"{os.path.basename(git)}-{Path(file_name).stem}").lstrip("-._")[:64]
    body = {
        "project": run.project,
        "name": job_name,
        "run_id": run.id,
        "config_defaults": dict(config),
        "definition": {"source_type": "repo", "source": source, "entrypoint": ["python", file_name]},
    }
    return _client(run).request("POST", "/api/v1/jobs", body)


def strip_credentials(remote: str) -> str:
    """``https://user:token@host/repo`` without ``user:token@``; scp-like ``git@host:repo`` is left as is."""
    try:
        parts = urlsplit(remote)
    except ValueError:
        return remote
    if parts.scheme in ("", "file") or (parts.username is None and parts.password is None):
        return remote
    if parts.scheme == "ssh" and parts.password is None:
        return remote
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _client(run: "Run") -> Any:
    client = run._client
    if client is None:
        raise Error("artifacts need an online run (this one is disabled)")
    return client


def _scan(path: str) -> List[Tuple[str, str]]:
    """(artifact path, file to read) pairs; symbolic links are followed only to files inside the root."""
    full = os.path.abspath(path)
    if os.path.isfile(full):
        return [(_checked(os.path.basename(full)), os.path.realpath(full))]
    if not os.path.isdir(full):
        raise Error(f"{path} does not exist")
    root = os.path.realpath(full)
    found: List[Tuple[str, str]] = []
    for current, dirs, names in os.walk(root, followlinks=False):
        for entry in sorted(dirs + names):
            entry_path = os.path.join(current, entry)
            relative = os.path.relpath(entry_path, root).replace(os.sep, "/")
            if os.path.islink(entry_path):
                target = os.path.realpath(entry_path)
                if not os.path.exists(target):
                    raise Error(f"'{relative}' is a symbolic link to nothing; remove it or point it at a file")
                if not target.startswith(root + os.sep):
                    raise Error(f"'{relative}' is a symbolic link to {target}, outside {root}; refusing to upload files from outside the directory")
                if os.path.isdir(target):
                    raise Error(f"'{relative}' is a symbolic link to a directory; links to directories are not followed")
                found.append((_checked(relative), target))
            elif entry in names:
                found.append((_checked(relative), entry_path))
    return sorted(found)


def _checked(relative: str) -> str:
    problem = _path_problem(relative)
    if problem:
        raise Error(f"cannot upload '{relative}': {problem}")
    return relative


def _path_problem(path: str) -> Optional[str]:
    """The server's path rules (ArtifactPaths): relative, '/'-separated, no '.'/'..', no control characters."""
    if not path:
        return "the path is empty"
    if len(path.encode("utf-8", "surrogatepass")) > 1024:
        return "the path is longer than 1024 bytes"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in path):
        return "the path contains a control or NUL character"
    if "\\" in path:
        return "the path contains '\\'"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "the path is absolute"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "the path has an empty, '.' or '..' segment"
    return None


def _target_path(root: str, real_root: str, path: str) -> str:
    problem = _path_problem(path)
    if problem:
        raise Error(f"the server sent an unsafe file path {path!r}: {problem}; nothing was written for it")
    target = os.path.abspath(os.path.join(root, *path.split("/")))
    if not target.startswith(root + os.sep):
        raise Error(f"the file path {path!r} leads outside {root}; nothing was written for it")
    return target


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _has_content(path: str, size: int, digest: str) -> bool:
    return os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) == size and _sha256(path) == digest


def _connection(run: "Run") -> Tuple[http.client.HTTPConnection, str, Dict[str, str]]:
    settings = run.settings
    parts = urlsplit(settings.base_url)
    conn_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    # A 1 MiB blocksize: http.client streams a file body in blocks of this size (8 KiB by default).
    conn = conn_type(parts.hostname or "", parts.port, timeout=300, blocksize=_CHUNK)
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT}
    return conn, parts.path.rstrip("/"), headers


def _upload_blob(run: "Run", full: str, digest: str, size: int) -> None:
    conn, prefix, headers = _connection(run)
    path = f"/api/v1/blobs/{digest}"
    try:
        with open(full, "rb") as f:
            conn.request("PUT", prefix + path, body=f, headers={**headers, "Content-Type": "application/octet-stream", "Content-Length": str(size)})
            response = conn.getresponse()
            data = response.read()
        if response.status >= 300:
            raise _problem_message("PUT", path, response.status, response.reason, data)
    except (OSError, http.client.HTTPException) as exc:
        raise Error(f"PUT {path}: upload of {full} failed ({exc})") from None
    finally:
        conn.close()


class _Slice:
    """``size`` bytes of an open file from its current position, read in blocks by http.client."""

    def __init__(self, f: Any, size: int) -> None:
        self._f = f
        self._left = size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n > 0 else b""
        self._left -= len(data)
        return data


def _upload_direct(run: "Run", full: str, digest: str, size: int, plan: Mapping[str, Any]) -> None:
    """Sends each part straight to the bucket at its presigned URL (no Liftoff key goes there), then asks the server
    to check and keep the blob."""
    tags = []
    with open(full, "rb") as f:
        for part in plan["parts"]:
            url = urlsplit(str(part["url"]))
            conn_type = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
            conn = conn_type(url.hostname or "", url.port, timeout=300, blocksize=_CHUNK)
            f.seek(int(part["offset"]))
            try:
                target = urlunsplit(("", "", url.path or "/", url.query, ""))
                conn.request("PUT", target, body=_Slice(f, int(part["size"])), headers={"Content-Length": str(part["size"]), "User-Agent": USER_AGENT})
                response = conn.getresponse()
                data = response.read()
                if response.status >= 300:
                    raise Error(f"the blob store refused part {part['number']} of {full} ({response.status}): {data[:500].decode('utf-8', 'replace')}")
                etag = response.getheader("ETag")
                if not etag:
                    raise Error(f"the blob store answered part {part['number']} of {full} without an ETag")
                tags.append({"number": part["number"], "etag": etag})
            except (OSError, http.client.HTTPException) as exc:
                raise Error(f"upload of {full} to the blob store at {url.hostname}:{url.port} failed ({exc})") from None
            finally:
                conn.close()
    body: Dict[str, Any] = {"size": size, "token": plan["token"]}
    if plan.get("upload_id"):
        body["upload_id"] = plan["upload_id"]
        body["parts"] = tags
    _client(run).request("POST", f"/api/v1/blobs/{digest}/complete", body)


def _download_blob(run: "Run", digest: str, target: str, size: int) -> None:
    conn, prefix, headers = _connection(run)
    path = f"/api/v1/blobs/{digest}"
    try:
        conn.request("GET", prefix + path, headers=headers)
        response = conn.getresponse()
        if response.status in (302, 303, 307) and response.getheader("Location"):
            # An S3 store hands out a presigned URL of the object: fetched with no Liftoff key.
            response.read()
            conn.close()
            location = urlsplit(response.getheader("Location") or "")
            conn_type = http.client.HTTPSConnection if location.scheme == "https" else http.client.HTTPConnection
            conn = conn_type(location.hostname or "", location.port, timeout=300, blocksize=_CHUNK)
            conn.request("GET", urlunsplit(("", "", location.path or "/", location.query, "")), headers={"User-Agent": USER_AGENT})
            response = conn.getresponse()
        if response.status >= 300:
            raise _problem_message("GET", path, response.status, response.reason, response.read())
        hasher = hashlib.sha256()
        written = 0
        with open(target, "xb") as f:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                hasher.update(chunk)
                f.write(chunk)
                written += len(chunk)
        if written != size or hasher.hexdigest() != digest:
            raise Error(f"{path} arrived corrupted ({written} bytes, sha256 {hasher.hexdigest()}); download again")
    except (OSError, http.client.HTTPException) as exc:
        raise Error(f"GET {path}: download failed ({exc})") from None
    finally:
        conn.close()


def _git(directory: str, *args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _say(message: str) -> None:
    print(message, file=sys.stderr)
