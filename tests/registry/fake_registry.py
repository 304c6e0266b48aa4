#!/usr/bin/env python3
"""A registry that misbehaves, for the registry tests' error cases (real registries do not
serve these on purpose). Usage: fake_registry.py PORT
  /v2/old/manifests/*      a Docker schema 1 signed manifest
  /v2/limited/manifests/*  429 with Retry-After: 1 twice, then 404 (MANIFEST_UNKNOWN)
  /v2/busy/manifests/*     429 with Retry-After: 3600, always
  /v2/liar/manifests/*     an OCI manifest whose Docker-Content-Digest header is wrong
Anything else is 404 NAME_UNKNOWN."""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

limited = {"count": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, err, msg, headers=()):
        self.answer(code, json.dumps({"errors": [{"code": err, "message": msg}]}).encode(),
                    [("Content-Type", "application/json")] + list(headers))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        p = self.path
        if p == "/v2/":
            return self.answer(200, b"{}", [("Content-Type", "application/json")])
        if p.startswith("/v2/old/manifests/"):
            body = json.dumps({"schemaVersion": 1, "name": "old", "tag": "1", "architecture": "amd64",
                               "fsLayers": [], "history": [], "signatures": []}).encode()
            return self.answer(200, body, [("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")])
        if p.startswith("/v2/limited/manifests/"):
            limited["count"] += 1
            if limited["count"] <= 2:
                return self.error(429, "TOOMANYREQUESTS", "slow down", [("Retry-After", "1")])
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        if p.startswith("/v2/busy/manifests/"):
            return self.error(429, "TOOMANYREQUESTS", "rate limit exceeded", [("Retry-After", "3600")])
        if p.startswith("/v2/liar/manifests/"):
            body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": "sha256:" + "0" * 64, "size": 2}, "layers": []}).encode()
            return self.answer(200, body, [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                           ("Docker-Content-Digest", "sha256:" + "1" * 64)])
        return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
