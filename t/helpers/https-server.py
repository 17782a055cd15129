#!/usr/bin/python3
# https-server - serve a directory over HTTPS on 127.0.0.1, for the tests of
# "liste-blanche fetch". Python's file handler sends Last-Modified and
# answers If-Modified-Since with 304, as a real web server does.
#   https-server.py PORTFILE CERT KEY DIR     (writes its port to PORTFILE)
import functools
import http.server
import ssl
import sys

port_file, cert, key, root = sys.argv[1:5]


class Handler(http.server.SimpleHTTPRequestHandler):
    """Logs the request line and the ESANTE-API-KEY header it came with."""

    def log_request(self, code="-", size="-"):
        self.log_message('"%s" %s %s api-key=%s', self.requestline, str(code), str(size),
                         self.headers.get("ESANTE-API-KEY", "(none)"))


handler = functools.partial(Handler, directory=root)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
httpd.serve_forever()
