#!/usr/bin/env python3
"""A Bearer token server for the registry tests (distribution's token auth): answers
GET /token?service=S&scope=repository:NAME:ACTIONS with a JWT signed RS256 by KEY, its
certificate in the x5c header (the registry trusts it through rootcertbundle). Basic
credentials USER:PASSWORD get pull and push; anonymous requests get pull only on
repositories under public/; wrong credentials get 401. Tokens last EXPIRES seconds.
Every request is appended to LOG (path and scopes, never the Authorization header).
Usage: token_server.py PORT KEY CERT USER PASSWORD EXPIRES LOG"""
import base64, json, os, subprocess, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

port, key, cert, user, password, expires, log = sys.argv[1:8]
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True, capture_output=True).stdout


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                         check=True, capture_output=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        authorized = False
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode(errors="replace") != user + ":" + password:
                self.send_response(401)
                self.end_headers()
                return
            authorized = True
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            wanted = parts[2].split(",")
            granted = wanted if authorized else (["pull"] if parts[1].startswith("public/") and "pull" in wanted else [])
            access.append({"type": "repository", "name": parts[1], "actions": granted})
        with open(log, "a") as f:
            f.write(json.dumps({"path": url.path, "scope": q.get("scope", []), "user": authorized}) + "\n")
        now = int(time.time())
        token = sign({"iss": "test-issuer", "sub": user if authorized else "", "aud": q.get("service", [""])[0],
                      "exp": now + int(expires), "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                      "access": access})
        body = json.dumps({"token": token, "expires_in": int(expires), "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
