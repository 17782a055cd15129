#!/usr/bin/perl
# A partner operator's certificate revoked on its IGC-Santé CA's CRL, with
# the real Postfix 3.7 (Debian 12) on the inbound side. Postfix gives neither
# the certificate nor its serial number to milters or policy services (only
# subject, issuer and fingerprints), and its TLS never checks a CRL, even one
# appended to smtpd_tls_CAfile: the revoked certificate is accepted. What it
# does offer: check_ccert_access with the certificate's SHA-256 fingerprint,
# the mitigation SECURITY.md describes. openssl verify -crl_check is the
# independent witness that the certificate is revoked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $pki = $sb->pki;
my $partner = $sb->issue(kind => 'server', cn => 'mx.b.mssante.test', ou => '318310021300036', o => 'OPERATEUR B');
my $ours = $sb->issue(kind => 'server', cn => 'mx.a.mssante.test', ou => '318310021300028', o => 'OPERATEUR A');

# The CRL of the organisations CA, listing the partner's certificate.
my $crl = $sb->crl('organisations', $partner->{cert});
my $witness = qx{openssl verify -crl_check -CAfile $pki->{bundle} -CRLfile $crl $partner->{cert} 2>&1};
like($witness, qr/certificate revoked/, 'openssl verify -crl_check: the partner\'s certificate is revoked');

# Our inbound Postfix: the IGC-Santé CAs and the CRL in smtpd_tls_CAfile; a
# fingerprint map consulted first.
my $cafile = Sandbox::write_file("$dir/ca-and-crl.pem", Sandbox::slurp($pki->{bundle}) . Sandbox::slurp($crl));
my $map = Sandbox::write_file("$dir/revoked-ccerts", "# none yet\n");
# postmap reads a main.cf: one of its own (Postfix's package installs none).
Sandbox::write_file("$dir/postmap/main.cf", "compatibility_level = 3.6\n");
my $postmap = sub { Sandbox::run('postmap', '-c', "$dir/postmap", "hash:$map") };
$postmap->();
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test', domains => ['a.mssante.test'],
    recipients => ['jean.dupont@a.mssante.test'], lmtp => 'inet:127.0.0.1:9',   # nothing is delivered here
    main => { smtpd_tls_security_level => 'may', smtpd_tls_ask_ccert => 'yes', smtpd_tls_CAfile => $cafile,
              smtpd_tls_cert_file => $ours->{chain}, smtpd_tls_key_file => $ours->{key},
              smtpd_tls_fingerprint_digest => 'sha256', smtpd_tls_loglevel => 1,
              smtpd_client_restrictions => "check_ccert_access hash:$map, permit" });

# rcpt - the partner's SMTP session (STARTTLS with its certificate): the transcript
sub rcpt {
    my (undef, $t) = Sandbox::swaks('127.0.0.2', $pf->{smtp_port}, local => '127.0.0.3', cert => $partner,
        from => 'dr.x@b.mssante.test', to => ['jean.dupont@a.mssante.test'], subject => 'test', helo => 'mx.b.mssante.test');
    return $t;
}
my $t = rcpt();
like(Sandbox::slurp($pf->{maillog}), qr/Trusted TLS connection established from \S+\[127\.0\.0\.3\]/,
     'Postfix calls the revoked certificate trusted (the CRL in its CAfile changes nothing)');
like($t, qr/^<[*~]+\s+250 2\.1\.5/m, 'and accepts the partner\'s recipient: the limit') or diag $t;

# The mitigation: the certificate's SHA-256 fingerprint in check_ccert_access.
my $fp = Sandbox::run('openssl', 'x509', '-in', $partner->{cert}, '-noout', '-fingerprint', '-sha256') =~ s/.*=|\s//gr;
Sandbox::write_file($map, "$fp REJECT certificat revoque / revoked certificate\n");
$postmap->();                   # Postfix sees the change before its next session
$t = rcpt();
like($t, qr/^<[*~]+\s+554 5\.7\.1 .*revoked certificate/m, 'its fingerprint in check_ccert_access: refused') or diag $t;
done_testing;
