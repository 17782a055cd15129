#!/usr/bin/python3
# imap-tls - one IMAP login over STARTTLS, optionally with a client
# certificate; prints "OK <INBOX message count>" or "NO <server's answer>"
# and exits 0 either way (1 on a TLS or network error).
#   imap-tls.py HOST PORT [--cert CERT --key KEY] --external [AUTHZID]
#   imap-tls.py HOST PORT [--cert CERT --key KEY] --login USER PASSWORD
import argparse
import imaplib
import ssl
import sys

ap = argparse.ArgumentParser()
ap.add_argument('host')
ap.add_argument('port', type=int)
ap.add_argument('--cert')
ap.add_argument('--key')
ap.add_argument('--external', nargs='?', const='', default=None, metavar='AUTHZID')
ap.add_argument('--login', nargs=2, metavar=('USER', 'PASSWORD'))
a = ap.parse_args()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE          # the server's certificate is not what is tested here
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
try:
    m = imaplib.IMAP4(a.host, a.port)
    m.starttls(ssl_context=ctx)
    if a.login:
        m.login(a.login[0], a.login[1])
    else:
        m.authenticate('EXTERNAL', lambda challenge: a.external.encode())
except imaplib.IMAP4.error as e:
    print('NO', e)
    sys.exit(0)
except (OSError, ssl.SSLError) as e:
    print('ERROR', e)
    sys.exit(1)
typ, data = m.select('INBOX')
print('OK', data[0].decode())
m.logout()
