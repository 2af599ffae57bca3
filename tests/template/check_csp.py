"""The built app starts under the Content-Security-Policy that template.yaml has CloudFront send, once
`cargo xtask deploy` has prepared app/dist; and the same app as trunk left it does not (so the policy is really
enforced here, and the deploy's rewrite is what makes it work).

Serves a copy of app/dist on loopback with the template's CSP (the stack's names filled in from the
describe-stacks fixture), opens it in headless Chromium, and watches for the app's own request for
/config.json, which only the running WebAssembly makes.

usage: python3 check_csp.py APP_DIST   (needs chromium, and cargo for `cargo xtask`)
"""

import functools
import http.server
import json
import os
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


def requests_made(dist, csp):
    """Paths the page asked for while Chromium ran it under `csp`."""
    seen = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".wasm": "application/wasm",
            ".js": "text/javascript",
        }

        def send_head(self):
            seen.append(self.path)
            if "." not in self.path.split("?")[0].rsplit("/", 1)[-1]:
                self.path = "/index.html"  # the SPA fallback CloudFront's function applies
            return super().send_head()

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
    return seen


def main(app_dist):
    csp = template_csp()
    print(f"CSP: {csp}")
    with tempfile.TemporaryDirectory() as work:
        prepared, untouched = os.path.join(work, "prepared"), os.path.join(work, "untouched")
        shutil.copytree(app_dist, prepared)
        shutil.copytree(app_dist, untouched)
        subprocess.run(
            ["cargo", "xtask", "deploy", "--dry-run", "--outputs", str(FIXTURE), "--dist", prepared],
            check=True, stdout=subprocess.DEVNULL,
        )
        shutil.copy(os.path.join(prepared, "config.json"), untouched)

        started = "/config.json" in requests_made(prepared, csp)
        blocked = "/config.json" not in requests_made(untouched, csp)
    print(f"{'ok ' if started else 'BAD'} the app prepared by `cargo xtask deploy` starts under the CSP")
    print(f"{'ok ' if blocked else 'BAD'} trunk's inline loader is refused by the same CSP (control)")
    return 0 if started and blocked else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
