#!/usr/bin/perl
# milter-whitelist -t: the real callbacks over message files, without an
# MTA, for the cases the two-operator test does not send: DSNs with a null
# sender, a certificate from a non IGC-Santé CA, an exempt local sender,
# two From: headers, and a configuration error naming its key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;
use ListeBlanche;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');
my $lb = ListeBlanche::sign(ListeBlanche::document(entries => [
    ['a.mssante.test', 'CN=mx.a.mssante.test,OU=1,O=A,C=FR'],
    ['b.mssante.test', 'CN=mx.b.mssante.test,OU=2,O=B,C=FR']]), $signer, "$dir/lb.xml");
my $issuer = 'TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS';
my $conf = Sandbox::write_file("$dir/m.conf", join '', map { "$_\n" }
    "whitelist_file = $lb", "whitelist_trust_anchors = " . $sb->pki->{bundle},
    "our_domains = a.mssante.test", "whitelist_issuer_cns = $issuer",
    "outbound_daemons = ORIGINATING",
    "local_exempt_senders = otp-codes\@a.mssante.test");

# mt - run the test mode; returns (exit status, stdout, stderr)
sub mt {
    my ($msg, @args) = @_;
    Sandbox::write_file("$dir/in.eml", $msg);
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('milter-whitelist'), '-t', '-c', $conf, @args;
    my $out = qx{$cmd < $dir/in.eml 2>$dir/err};
    return ($? >> 8, $out, Sandbox::slurp("$dir/err"));
}
my $from_b = "From: <marie\@b.mssante.test>\nSubject: t\n\nbody\n";
my @from_b_cert = ('--cert-subject', 'mx.b.mssante.test', '--cert-issuer', $issuer);

my ($rc, $out, $err) = mt("From: MAILER-DAEMON\@mx.b.mssante.test\nSubject: Undelivered\n\nreport\n",
                          '--from', '', '--rcpt', 'jean@a.mssante.test', @from_b_cert);
is($rc, 0, 'DSN with a null sender from a listed operator: accepted') or diag $err;
like($out, qr/^X-MSSante-Trust: mssante; domain=; operator="CN=mx\.b\.mssante\.test,OU=2,O=B,C=FR"$/m,
     'its trust header names the operator');
($rc, $out, $err) = mt("From: MAILER-DAEMON\@mx.z.test\n\nreport\n", '--from', '', '--rcpt', 'jean@a.mssante.test',
                       '--cert-subject', 'mx.z.test', '--cert-issuer', $issuer);
ok($rc == 1 && $err =~ /MAIL: 550 5\.7\.1 .*Certificate not in the MSSante trust list/, 'DSN from an unlisted certificate: 550');
($rc, $out, $err) = mt($from_b, '--from', 'marie@b.mssante.test', '--rcpt', 'jean@a.mssante.test',
                       '--cert-subject', 'mx.b.mssante.test', '--cert-issuer', 'Some Public CA');
ok($rc == 1 && $err =~ /Client certificate not issued by an IGC-Sante CA/, 'certificate of a non IGC-Santé CA: 550');
($rc, $out, $err) = mt("From: <marie\@b.mssante.test>\nFrom: <x\@b.mssante.test>\n\nbody\n",
                       '--from', 'marie@b.mssante.test', '--rcpt', 'jean@a.mssante.test', @from_b_cert);
ok($rc == 1 && $err =~ /From: header domain not listed/, 'two From: headers: 550');
($rc, $out, $err) = mt("Subject: no from\n\nbody\n", '--from', 'marie@b.mssante.test', '--rcpt', 'jean@a.mssante.test',
                       @from_b_cert);
ok($rc == 1 && $err =~ /From: header domain not listed/, 'no From: header: 550');
($rc, $out, $err) = mt($from_b, '--from', 'bad address@b.mssante.test', '--rcpt', 'jean@a.mssante.test', @from_b_cert);
ok($rc == 1 && $err =~ /MAIL: 550 5\.1\.7/, 'malformed sender from outside: 550 5.1.7');

($rc, $out, $err) = mt("Subject: code\n\nyour code\n", '--local', '--from', 'otp-codes@a.mssante.test',
                       '--rcpt', 'jean.dupont@gmail.com');
is($rc, 0, 'local mail of an exempt sender may leave the trust space (one-time codes)') or diag $err;
($rc, $out, $err) = mt("Subject: code\n\nyour code\n", '--local', '--from', 'jean@a.mssante.test',
                       '--rcpt', 'jean.dupont@gmail.com');
ok($rc == 1 && $err =~ /END-OF-MESSAGE: 550 5\.7\.1 Recipients outside the MSSante trust space.*jean\.dupont\@gmail\.com/,
   'the same from anyone else: refused at end of message');
($rc, $out, $err) = mt("Subject: s\n\nb\n", '--macro', '{daemon_name}=ORIGINATING', '--from', 'jean@a.mssante.test',
                       '--rcpt', 'x@gmail.com', '--rcpt', 'y@b.mssante.test');
ok($rc == 0 && $err =~ /RCPT <x\@gmail\.com>: 550 5\.7\.1/ && $out =~ /^X-MSSante-Trust: local$/m,
   'a daemon named in outbound_daemons is outbound: gmail refused, the rest goes');

Sandbox::write_file("$dir/bad.conf", Sandbox::slurp($conf) . "our_domains = a..test\n");
$out = qx{@{[ $sb->bin('milter-whitelist') ]} -n -c $dir/bad.conf 2>&1};
ok($? >> 8 == 1 && $out =~ /key "our_domains": "a\.\.test": empty label/, 'a bad domain in the configuration names the key');
Sandbox::write_file("$dir/nolist.conf", Sandbox::slurp($conf) . "whitelist_file = $dir/none.xml\n");
my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('milter-whitelist'), '-t', '-c', "$dir/nolist.conf",
    '--from', 'marie@b.mssante.test', '--rcpt', 'jean@a.mssante.test', @from_b_cert;
Sandbox::write_file("$dir/in.eml", $from_b);
$out = qx{$cmd < $dir/in.eml 2>&1};
ok($? >> 8 == 75 && $out =~ /MAIL: 451 4\.7\.0 .*MSSante trust list unavailable/, 'no list at all: 451 4.7.0, never accepted');
done_testing;
