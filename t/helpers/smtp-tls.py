#!/usr/bin/python3
# smtp-tls - one message over SMTP with STARTTLS, optionally with a client
# certificate and AUTH EXTERNAL; prints "250 <reply>" when the message is
# accepted, else the first refusal "<code> <reply>"; exits 1 on a TLS or
# network error.
#   smtp-tls.py HOST PORT [--cert CERT --key KEY] [--external] --from ADDR --to ADDR --subject S
import argparse
import smtplib
import ssl
import sys

ap = argparse.ArgumentParser()
ap.add_argument('host')
ap.add_argument('port', type=int)
ap.add_argument('--cert')
ap.add_argument('--key')
ap.add_argument('--external', action='store_true')
ap.add_argument('--from', dest='sender', required=True)
ap.add_argument('--to', required=True)
ap.add_argument('--subject', required=True)
a = ap.parse_args()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE          # the server's certificate is not what is tested here
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
msg = 'From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nBonjour.\r\n' % (a.sender, a.to, a.subject)
try:
    s = smtplib.SMTP(a.host, a.port, timeout=30)
    s.ehlo('logiciel.test')
    s.starttls(context=ctx)
    s.ehlo('logiciel.test')
    if a.external:
        code, text = s.docmd('AUTH', 'EXTERNAL =')
        if code != 235:
            print(code, text.decode(errors='replace'))
            sys.exit(0)
    for cmd, arg in (('MAIL', 'FROM:<%s>' % a.sender), ('RCPT', 'TO:<%s>' % a.to)):
        code, text = s.docmd(cmd, arg)
        if code >= 300:
            print(code, text.decode(errors='replace'))
            sys.exit(0)
    code, text = s.data(msg.encode())
    print(code, text.decode(errors='replace'))
    s.quit()
except (OSError, ssl.SSLError, smtplib.SMTPException) as e:
    print('ERROR', e)
    sys.exit(1)
