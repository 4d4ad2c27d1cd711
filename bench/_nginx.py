"""nginx with proxy_cache, the C reference peer: a config in a temp prefix on loopback."""

from __future__ import annotations

from pathlib import Path

_PROLOGUE = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    proxy_cache_path {prefix}/cache keys_zone=edge:10m max_size=100m;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 32; }}
"""

# The caching location both benchmarks use: every request to the origin goes through it.
CACHED_LOCATION = """
        location / {
            proxy_cache edge;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://origin;
            add_header X-Cache-Status $upstream_cache_status;
        }"""


def nginx_conf(prefix: Path, origin_port: int, http_body: str) -> Path:
    """Write ``prefix/nginx.conf``: the shared prologue, then ``http_body`` (maps, server)."""
    conf = prefix / "nginx.conf"
    conf.write_text(_PROLOGUE.format(prefix=prefix, origin_port=origin_port) + http_body + "\n}\n")
    return conf
