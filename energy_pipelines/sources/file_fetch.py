"""Whole-file downloads for live fetches (IRVE national file, Météo-France): one session with
retries, timeouts from the catalogue, streamed to a temporary file in the landing zone and renamed
when complete."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def session(live: dict[str, Any]) -> requests.Session:
    retries = int(live.get("retries", 3))
    retry = Retry(total=retries, connect=retries, read=retries, backoff_factor=float(live.get("backoff_s", 1.0)),
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET",))
    http = requests.Session()
    http.mount("https://", HTTPAdapter(max_retries=retry))
    http.mount("http://", HTTPAdapter(max_retries=retry))
    http.headers["User-Agent"] = "energy_pipelines (Région Sud open data)"
    return http


def timeouts(live: dict[str, Any]) -> tuple[float, float]:
    return float(live.get("connect_timeout_s", 5)), float(live.get("read_timeout_s", 120))


def download(http: requests.Session, url: str, landing, name: str, ctx, transform=None) -> Path:
    """GET `url` into landing/<source>/<name>, atomically; `transform(lines) -> lines` may filter it."""
    target = landing.dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with http.get(url, stream=True, timeout=timeouts(ctx.live)) as resp:
            resp.raise_for_status()
            with open(tmp, "wb") as out:
                if transform is None:
                    for chunk in resp.iter_content(chunk_size=1 << 20):
                        out.write(chunk)
                else:
                    for line in transform(resp.iter_lines(decode_unicode=False)):
                        out.write(line + b"\n")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    ctx.log.info("live: downloaded %s -> landing/%s/%s", url, landing.source_id, name)
    return target
