#!/usr/bin/perl
# Client-facing TLS from the shipped snippets (conf/dovecot-client-tls.conf,
# conf/postfix-main.cf and the submission lines of conf/postfix-master.cf),
# checked with openssl s_client: TLS 1.1 refused by the server, TLS 1.3
# accepted, each of the four TLS 1.2 suites of the national rules accepted
# and negotiated, other TLS 1.2 suites refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $top = $sb->top;
my $srv = $sb->issue(kind => 'server', cn => 'imap.a.mssante.test', o => 'OPERATEUR A', ip => '127.0.0.1');
my @allowed = qw(ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES128-SHA256);
my @refused = qw(AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES256-SHA DHE-RSA-AES256-GCM-SHA384);

# Dovecot: the shipped snippet, only the certificate paths set to the test's.
my $snippet = Sandbox::slurp("$top/conf/dovecot-client-tls.conf");
$snippet =~ s{^ssl_cert = <.*$}{ssl_cert = <$srv->{chain}}m or die 'ssl_cert line';
$snippet =~ s{^ssl_key = <.*$}{ssl_key = <$srv->{key}}m or die 'ssl_key line';
my $dc = $sb->dovecot(users => { 'jean.dupont@a.mssante.test' => 'Secret-1' }, extra => $snippet);

# Postfix: main.cf's TLS keys and the submission service's -o lines, as shipped.
my %main = Sandbox::slurp("$top/conf/postfix-main.cf") =~ /^((?:smtpd_)?tls_\w+|smtpd_tls_(?:protocols|mandatory_protocols|ciphers|mandatory_ciphers)) = (.*)$/mg;
my ($sub) = Sandbox::slurp("$top/conf/postfix-master.cf") =~ /^submission .*\n((?:  -o .*\n)+)/m;
my @args = grep { /^smtpd_tls_/ } $sub =~ /^  -o (\S+)$/mg;
ok(@args >= 3 && $main{tls_high_cipherlist}, 'the snippets carry the TLS settings') or diag explain \%main, \@args;
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
    main => { map({ $_ => $main{$_} } grep { /protocols|ciphers|cipherlist/ } keys %main),
              smtpd_tls_cert_file => $srv->{chain}, smtpd_tls_key_file => $srv->{key} },
    submission => { args => \@args });

# s_client - a handshake; (negotiated protocol, cipher, output)
sub s_client {
    my ($starttls, $port, @opt) = @_;
    my $addr = $starttls eq 'smtp' ? '127.0.0.2' : '127.0.0.1';
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } 'openssl', 's_client', '-connect', "$addr:$port",
        '-starttls', $starttls, '-servername', 'imap.a.mssante.test', @opt;
    my $out = qx{echo Q | timeout 20 $cmd 2>&1};
    my ($proto, $cipher) = $out =~ /^New, (\S+), Cipher is (\S+)/m;
    ($proto, $cipher) = () if !$cipher || $cipher eq '(NONE)';
    return ($proto, $cipher, $out);
}

for my $svc (['imap', $dc->{imap_port}, 'IMAP (Dovecot)'], ['smtp', $pf->{submission_port}, 'submission (Postfix)']) {
    my ($st, $port, $name) = @$svc;
    # The client is told to allow anything old, so a refusal is the server's:
    # the same client settings with TLS 1.2 get through.
    my ($proto, $cipher, $out) = s_client($st, $port, '-tls1_2', '-cipher', 'DEFAULT@SECLEVEL=0');
    is($proto, 'TLSv1.2', "$name: control: the permissive client gets TLS 1.2") or diag $out;
    ($proto, $cipher, $out) = s_client($st, $port, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0');
    ok(!$cipher && $out =~ /^CONNECTED/m, "$name: TLS 1.1 refused by the server") or diag $out;
    ($proto, $cipher, $out) = s_client($st, $port, '-tls1_3');
    is($proto, 'TLSv1.3', "$name: TLS 1.3 accepted") or diag $out;
    for my $c (@allowed) {
        ($proto, $cipher, $out) = s_client($st, $port, '-tls1_2', '-cipher', $c);
        ok($proto && $proto eq 'TLSv1.2' && $cipher && $cipher eq $c, "$name: TLS 1.2 with $c accepted")
            or diag $out;
    }
    for my $c (@refused) {
        ($proto, $cipher, $out) = s_client($st, $port, '-tls1_2', '-cipher', "$c\@SECLEVEL=0");
        ok(!$cipher, "$name: TLS 1.2 with $c refused") or diag $out;
    }
}
done_testing;
