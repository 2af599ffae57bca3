"""The built app starts under the Content-Security-Policy that template.yaml has CloudFront send, once
`cargo xtask deploy` has prepared app/dist, served as CloudFront and S3 would serve it: brotli copies included;
and the same app as trunk left it does not (so the policy is really enforced here, and the deploy's rewrite is
what makes it work).

Serves a copy of app/dist on loopback with the template's CSP (the stack's names filled in from the
describe-stacks fixture), opens it in headless Chromium, and watches for the app's own request for
/config.json, which only the running WebAssembly makes. The prepared copy is served like the stack serves it:
each request goes through the distribution's viewer-request function (SpaRewriteFunction, run in Node), and
the object it names is sent with the headers its upload in the deploy's plan gives it (Content-Type,
Cache-Control, Content-Encoding: br for a brotli copy), or S3's 403 if the plan uploads no such object. So the
app starting also proves that Chromium received its brotli copies and decoded them, and the bytes sent are a
first visit as a brotli browser downloads it.

usage: python3 check_csp.py APP_DIST   (needs chromium, node, and cargo for `cargo xtask`)
"""

import functools
import http.server
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading

import invariants

FIXTURE = invariants.ROOT / "xtask" / "tests" / "fixtures" / "describe-stacks.json"


def template_csp():
    """The policy as CloudFront would send it for the fixture's stack."""
    template = invariants.load()
    config = template["Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    text = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads(FIXTURE.read_text())["Stacks"][0]["Outputs"]}
    api_host = outputs["WebSocketURL"].split("//")[1].split("/")[0]
    api_id, _, rest = api_host.partition(".execute-api.")
    region = rest.split(".")[0]
    auth_host = outputs["AuthBaseURL"].split("//")[1]
    for name, value in {"ChatApi": api_id, "AWS::Region": region, "AuthHost": auth_host}.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, text
    return " ".join(text.split())


def uploads(plan):
    """The S3 objects `cargo xtask deploy --dry-run` would upload: key → the headers S3 would answer with."""
    objects = {}
    for line in plan.splitlines():
        if "aws s3 cp " not in line:
            continue
        args = shlex.split(line[line.index("aws s3 cp "):])
        key = args[4].split("/", 3)[3]
        flags = {flag: value for flag, value in zip(args[5:], args[6:])
                 if flag in ("--content-type", "--cache-control", "--content-encoding")}
        headers = {"Content-Type": flags["--content-type"], "Cache-Control": flags["--cache-control"]}
        if "--content-encoding" in flags:
            headers["Content-Encoding"] = flags["--content-encoding"]
        objects[key] = headers
    return objects


class SiteFunction:
    """The template's viewer-request function, running in one Node process: a request in, the S3 key out."""

    def __init__(self):
        code = invariants.load()["Resources"]["SpaRewriteFunction"]["Properties"]["FunctionCode"]
        loop = """
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line);
  process.stdout.write(JSON.stringify(handler({ request: request }).uri) + '\\n');
});"""
        self.node = subprocess.Popen(["node", "-e", code + loop], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.lock = threading.Lock()

    def key(self, path, accept_encoding):
        headers = {} if accept_encoding is None else {"accept-encoding": {"value": accept_encoding}}
        request = {"method": "GET", "uri": path.split("?")[0], "querystring": {}, "headers": headers, "cookies": {}}
        with self.lock:
            self.node.stdin.write(json.dumps(request) + "\n")
            self.node.stdin.flush()
            return json.loads(self.node.stdout.readline()).lstrip("/")

    def close(self):
        self.node.stdin.close()
        self.node.wait(timeout=10)


def requests_made(dist, csp, objects=None):
    """What the page asked for while Chromium ran it under `csp`: (path, Content-Encoding sent, bytes sent).
    With `objects` (the deploy's uploads), served as the stack serves it; without, as plain files with the SPA
    fallback."""
    seen = []
    function = SiteFunction() if objects is not None else None

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".wasm": "application/wasm",
            ".js": "text/javascript",
        }

        def do_GET(self):
            if function is None:
                if "." not in self.path.split("?")[0].rsplit("/", 1)[-1]:
                    self.path = "/index.html"  # the SPA fallback CloudFront's function applies
                seen.append((self.path, None, None))
                return super().do_GET()
            key = function.key(self.path, self.headers.get("Accept-Encoding"))
            if key not in objects:
                seen.append((self.path, None, 0))
                self.send_error(403)  # S3 (no ListBucket) for a key it does not have
                return None
            with open(os.path.join(dist, key), "rb") as file:
                body = file.read()
            self.send_response(200)
            for name, value in objects[key].items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            seen.append((self.path, objects[key].get("Content-Encoding"), len(body)))
            return None

        def end_headers(self):
            self.send_header("Content-Security-Policy", csp)
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=dist))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                    "--virtual-time-budget=10000", "--dump-dom", f"http://127.0.0.1:{server.server_port}/rooms/general",
                ],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90, check=False,
            )
    finally:
        server.shutdown()
        if function is not None:
            function.close()
    return seen


def main(app_dist):
    csp = template_csp()
    print(f"CSP: {csp}")
    with tempfile.TemporaryDirectory() as work:
        prepared, untouched = os.path.join(work, "prepared"), os.path.join(work, "untouched")
        shutil.copytree(app_dist, prepared)
        shutil.copytree(app_dist, untouched)
        plan = subprocess.run(
            ["cargo", "xtask", "deploy", "--dry-run", "--outputs", str(FIXTURE), "--dist", prepared],
            check=True, stdout=subprocess.PIPE, text=True,
        ).stdout
        shutil.copy(os.path.join(prepared, "config.json"), untouched)

        served = requests_made(prepared, csp, uploads(plan))
        started = any(path == "/config.json" for path, _, _ in served)
        blocked = not any(path == "/config.json" for path, _, _ in requests_made(untouched, csp))
    for path, encoding, size in served:
        print(f"    {path}: {size} bytes{', brotli' if encoding == 'br' else ''}")
    wasm_js = [(path, encoding) for path, encoding, _ in served if path.endswith((".wasm", ".js"))]
    brotli = len(wasm_js) >= 3 and all(encoding == "br" for _, encoding in wasm_js)
    print(f"    a first visit, as served: {sum(size for _, _, size in served)} bytes")
    print(f"{'ok ' if started else 'BAD'} the app prepared by `cargo xtask deploy`, served as the stack serves it, "
          "starts under the CSP")
    print(f"{'ok ' if brotli else 'BAD'} its WebAssembly and scripts arrived as their brotli copies: {wasm_js}")
    print(f"{'ok ' if blocked else 'BAD'} trunk's inline loader is refused by the same CSP (control)")
    return 0 if started and brotli and blocked else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
