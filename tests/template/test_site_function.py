"""The distribution's viewer-request function (template.yaml, SpaRewriteFunction), run in Node on the events
CloudFront would hand it: client-side routes get index.html, and a browser that accepts brotli gets the `.br` copy
`cargo xtask deploy` uploads, for exactly the files the deploy compresses (xtask/src/site.rs, PRECOMPRESSED).

Run: python3 -m unittest discover -s tests/template -v   (needs node)
"""

import json
import re
import subprocess
import unittest

import invariants as inv

CHROME = "gzip, deflate, br, zstd"


def function_code():
    return inv.load()["Resources"]["SpaRewriteFunction"]["Properties"]["FunctionCode"]


def rewrite(uri, accept_encoding=None):
    """The URI the function sends on to S3 for a viewer's `uri` with this Accept-Encoding (None: no header)."""
    headers = {} if accept_encoding is None else {"accept-encoding": {"value": accept_encoding}}
    event = {"version": "1.0", "context": {"eventType": "viewer-request"}, "viewer": {"ip": "192.0.2.1"},
             "request": {"method": "GET", "uri": uri, "querystring": {}, "headers": headers, "cookies": {}}}
    script = function_code() + "\nprocess.stdout.write(JSON.stringify(handler(" + json.dumps(event) + ")));\n"
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(result.stdout)["uri"]


def deploy_compresses():
    """xtask's list of the extensions it uploads a brotli copy for."""
    source = (inv.ROOT / "xtask" / "src" / "site.rs").read_text()
    listed = re.search(r"pub const PRECOMPRESSED: &\[&str\] = &\[([^\]]*)\];", source).group(1)
    return set(re.findall(r'"(\w+)"', listed))


def function_rewrites():
    """The extensions the function's pattern sends to a `.br` copy."""
    return set(re.search(r"/\\\.\(([\w|]+)\)\$/", function_code()).group(1).split("|"))


class TheSiteFunction(unittest.TestCase):
    def test_routes_get_the_page_and_brotli_browsers_its_copy(self):
        """A client-side route is index.html: its brotli copy for Chrome, the page itself without `br`."""
        self.assertEqual(rewrite("/rooms/general", CHROME), "/index.html.br")
        self.assertEqual(rewrite("/", CHROME), "/index.html.br")
        self.assertEqual(rewrite("/auth/callback", "gzip"), "/index.html")
        self.assertEqual(rewrite("/rooms/general"), "/index.html")

    def test_assets_get_their_copy_only_when_br_is_accepted(self):
        """The app's files go to their `.br` copy for a brotli browser, whatever the header's spelling."""
        wasm = "/chatty-app-1f2e3d4c5b6a7980_bg.wasm"
        self.assertEqual(rewrite(wasm, CHROME), wasm + ".br")
        self.assertEqual(rewrite(wasm, "BR"), wasm + ".br")
        self.assertEqual(rewrite(wasm, "gzip;q=1.0, br;q=0.5"), wasm + ".br")
        self.assertEqual(rewrite("/config.json", "br"), "/config.json.br")
        self.assertEqual(rewrite(wasm, "gzip, deflate"), wasm)
        self.assertEqual(rewrite(wasm, "gzip, br;q=0"), wasm, "q=0 means not acceptable")
        self.assertEqual(rewrite(wasm, "brotli, gzip"), wasm, "only the token br is brotli")
        self.assertEqual(rewrite(wasm), wasm)

    def test_files_without_a_copy_are_left_alone(self):
        """Nothing is sent to a copy the deploy does not upload."""
        self.assertEqual(rewrite("/logo.png", CHROME), "/logo.png")
        self.assertEqual(rewrite("/robots.txt", CHROME), "/robots.txt")

    def test_the_function_and_the_deploy_agree_on_what_is_compressed(self):
        """Every extension the deploy compresses is rewritten, and nothing else: a copy the function asked for
        and S3 did not have would be an error page."""
        self.assertEqual(function_rewrites(), deploy_compresses())
        self.assertIn("wasm", deploy_compresses())


if __name__ == "__main__":
    unittest.main()
